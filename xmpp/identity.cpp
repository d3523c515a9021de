// SPDX-License-Identifier: Apache-2.0
#include "xmpp/identity.hpp"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "tls/x509.hpp"

namespace ward::xmpp {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// A fully qualified name's trailing dot is not part of the comparison (RFC 6125 section 6.4.1).
std::string_view strip_root(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

// ASN.1 string contents, or "" when they hold a NUL byte (a forged name).
std::string string_of(const ASN1_STRING* s) {
    if (s == nullptr) return {};
    const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(s));
    const std::string value(data, static_cast<std::size_t>(ASN1_STRING_length(s)));
    if (value.find('\0') != std::string::npos) return {};
    return value;
}

struct NamesDeleter {
    void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

}  // namespace

bool dns_id_matches(std::string_view pattern, std::string_view domain) {
    pattern = strip_root(pattern);
    domain = strip_root(domain);
    if (pattern.empty() || domain.empty()) return false;
    if (pattern.substr(0, 2) != "*.") return iequals(pattern, domain);
    const std::string_view rest = pattern.substr(2);
    // "*.com" would cover a whole top-level domain: at least two labels must follow.
    if (rest.find('.') == std::string_view::npos || rest.find('*') != std::string_view::npos) return false;
    const auto dot = domain.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return iequals(domain.substr(dot + 1), rest);
}

PresentedIdentifiers presented_identifiers(X509* cert) {
    PresentedIdentifiers out;
    if (cert == nullptr) return out;
    int found = -1;  // -1: no such extension; -2: more than one; >= 0: there (decoded or not)
    std::unique_ptr<GENERAL_NAMES, NamesDeleter> names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &found, nullptr)));
    if (!names && found != -1) out.unreadable = true;
    static const int xmpp_addr_nid = [] {
        const int nid = OBJ_txt2nid("1.3.6.1.5.5.7.8.5");
        return nid != NID_undef ? nid : OBJ_create("1.3.6.1.5.5.7.8.5", "id-on-xmppAddr", "XmppAddr");
    }();
    static const int srv_nid = [] {
        const int nid = OBJ_txt2nid("1.3.6.1.5.5.7.8.7");
        return nid != NID_undef ? nid : OBJ_create("1.3.6.1.5.5.7.8.7", "id-on-dnsSRV", "SRVName");
    }();
    const int count = names ? sk_GENERAL_NAME_num(names.get()) : 0;
    for (int i = 0; i < count; ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        switch (name->type) {
        case GEN_DNS:
            out.dns_ids.push_back(string_of(name->d.dNSName));
            break;
        case GEN_URI:
            out.uri_ids.push_back(string_of(name->d.uniformResourceIdentifier));
            break;
        case GEN_OTHERNAME: {
            const OTHERNAME* other = name->d.otherName;
            const int nid = OBJ_obj2nid(other->type_id);
            if (nid == xmpp_addr_nid) {
                if (other->value->type == V_ASN1_UTF8STRING)
                    out.xmpp_addrs.push_back(string_of(other->value->value.utf8string));
                else
                    out.unreadable = true;
            } else if (nid == srv_nid) {
                if (other->value->type == V_ASN1_IA5STRING)
                    out.srv_ids.push_back(string_of(other->value->value.ia5string));
                else
                    out.unreadable = true;
            }
            break;
        }
        default: break;
        }
    }
    // CNs that hold a NUL byte are kept as empty, so they count but never match.
    for (auto& cn : tls::subject_common_names(cert))
        out.common_names.push_back(cn.find('\0') == std::string::npos ? std::move(cn) : std::string());
    return out;
}

namespace {

// A DNS host name: labels of letters, digits and hyphens (not at either end), 1-63 bytes each,
// an optional trailing dot, at most 253 bytes.
bool host_name(std::string_view name) {
    name = strip_root(name);
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '.') {
            if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
            label = 0;
            continue;
        }
        const char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
        ++label;
    }
    return true;
}

}  // namespace

std::string check_server_identity(X509* cert, std::string_view domain) {
    if (cert == nullptr) return "no certificate";
    if (!host_name(domain)) return "'" + std::string(domain) + "' is not a domain name";
    const PresentedIdentifiers ids = presented_identifiers(cert);
    if (ids.unreadable) return "certificate's subjectAltName cannot be read";
    for (const auto& d : ids.dns_ids)
        if (dns_id_matches(d, domain)) return {};
    constexpr std::string_view kService = "_xmpp-server.";
    for (const auto& s : ids.srv_ids) {
        if (s.size() > kService.size() && iequals(std::string_view(s).substr(0, kService.size()), kService) &&
            iequals(strip_root(std::string_view(s).substr(kService.size())), strip_root(domain)))
            return {};
    }
    for (const auto& x : ids.xmpp_addrs)
        if (!x.empty() && iequals(x, domain)) return {};
    const bool has_san_ids =
        !ids.dns_ids.empty() || !ids.srv_ids.empty() || !ids.xmpp_addrs.empty() || !ids.uri_ids.empty();
    if (has_san_ids) return "certificate does not name '" + std::string(domain) + "' (DNS-ID, SRV-ID or XmppAddr)";
    if (ids.common_names.size() != 1) return "certificate has no identifier naming '" + std::string(domain) + "'";
    if (!ids.common_names.front().empty() && iequals(strip_root(ids.common_names.front()), strip_root(domain)))
        return {};
    return "certificate CN does not name '" + std::string(domain) + "'";
}

}  // namespace ward::xmpp
