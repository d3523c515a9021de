// SPDX-License-Identifier: Apache-2.0
#include "xmpp/features.hpp"

#include <pugixml.hpp>

#include <sstream>
#include <vector>

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp {

namespace {

std::string_view local_name(std::string_view qname) {
    const auto colon = qname.find(':');
    return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

std::string_view prefix_of(std::string_view qname) {
    const auto colon = qname.find(':');
    return colon == std::string_view::npos ? std::string_view() : qname.substr(0, colon);
}

// The namespace of an element's name, from the declarations on it and its ancestors inside
// the fragment (a child of <features> declares its own, as every server writes it).
std::string namespace_of(const pugi::xml_node& node) {
    const std::string_view prefix = prefix_of(node.name());
    const std::string attr = prefix.empty() ? std::string("xmlns") : "xmlns:" + std::string(prefix);
    for (pugi::xml_node n = node; n && n.type() == pugi::node_element; n = n.parent()) {
        if (const auto a = n.attribute(attr.c_str())) return a.value();
    }
    return {};
}

}  // namespace

FeaturesRewrite rewrite_features(std::string_view raw, bool offer_starttls) {
    FeaturesRewrite out;
    pugi::xml_document doc;
    const auto parsed = doc.load_buffer(raw.data(), raw.size(), pugi::parse_default, pugi::encoding_utf8);
    pugi::xml_node features = doc.first_child();
    // The stream header binds the streams namespace to a prefix ("stream" by convention); the
    // fragment alone cannot say which, so a prefixed <features> is taken as the streams one.
    if (!parsed || !features || features.type() != pugi::node_element || local_name(features.name()) != "features" ||
        prefix_of(features.name()).empty()) {
        out.text = raw;
        return out;
    }
    std::vector<pugi::xml_node> drop;
    for (pugi::xml_node child = features.first_child(); child; child = child.next_sibling()) {
        if (child.type() != pugi::node_element) continue;
        const std::string ns = namespace_of(child);
        const std::string_view name = local_name(child.name());
        if ((name == "starttls" && ns == kTlsNs) || (name == "compression" && ns == kCompressFeatureNs))
            drop.push_back(child);
    }
    if (drop.empty() && !offer_starttls) {
        out.text = raw;
        return out;
    }
    for (auto& node : drop) features.remove_child(node);
    out.removed = static_cast<int>(drop.size());
    if (offer_starttls) {
        auto starttls = features.prepend_child("starttls");
        starttls.append_attribute("xmlns") = std::string(kTlsNs).c_str();
    }
    std::ostringstream text;
    // Character references were expanded when parsing and pugixml escapes again what needs it,
    // whatever quote the attribute was written with: the same information, safely written.
    features.print(text, "", pugi::format_raw, pugi::encoding_utf8);
    out.text = text.str();
    return out;
}

bool offers_starttls(std::string_view raw) {
    pugi::xml_document doc;
    if (!doc.load_buffer(raw.data(), raw.size(), pugi::parse_default, pugi::encoding_utf8)) return false;
    const pugi::xml_node features = doc.first_child();
    if (!features || local_name(features.name()) != "features") return false;
    for (pugi::xml_node child = features.first_child(); child; child = child.next_sibling()) {
        if (child.type() == pugi::node_element && local_name(child.name()) == "starttls" && namespace_of(child) == kTlsNs)
            return true;
    }
    return false;
}

}  // namespace ward::xmpp
