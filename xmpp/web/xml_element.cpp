// SPDX-License-Identifier: Apache-2.0
#include "xmpp/web/xml_element.hpp"

#include "xmpp/expat_salt.hpp"

#include <expat.h>

#include <memory>
#include <variant>

namespace ward::xmpp::web {

std::optional<std::string_view> Element::attribute(std::string_view name) const {
    for (const auto& [key, value] : attributes)
        if (key == name) return std::string_view(value);
    return std::nullopt;
}

namespace {

constexpr char kSeparator = '\x01';  // "uri SEP local": a byte no name or URI contains

struct Parse {
    XML_Parser parser = nullptr;
    const ElementLimits* limits = nullptr;
    Element root;
    std::size_t depth = 0;
    bool root_seen = false;
    bool root_closed = false;
    std::optional<ElementError> error;

    void fail(StreamCondition condition, std::string detail) {
        if (!error) error = ElementError{condition, std::move(detail)};
        XML_StopParser(parser, XML_FALSE);
    }

    static void split(const char* name, std::string& ns, std::string& local) {
        const std::string_view n(name);
        const auto sep = n.find(kSeparator);
        if (sep == std::string_view::npos) {
            ns.clear();
            local = n;
        } else {
            ns = n.substr(0, sep);
            local = n.substr(sep + 1);
        }
    }

    static void on_start(void* data, const XML_Char* name, const XML_Char** attributes) {
        auto& self = *static_cast<Parse*>(data);
        if (self.error) return;
        if (self.root_closed) return self.fail(StreamCondition::not_well_formed, "more than one element");
        if (++self.depth > self.limits->max_depth)
            return self.fail(StreamCondition::policy_violation, "elements nested too deep");
        std::size_t count = 0;
        for (auto a = attributes; *a; a += 2) ++count;
        // (Namespace declarations are not reported as attributes; the limit counts the rest.)
        if (count > self.limits->max_attributes)
            return self.fail(StreamCondition::policy_violation, "too many attributes");
        if (self.depth != 1) return;
        self.root_seen = true;
        split(name, self.root.ns, self.root.local_name);
        for (auto a = attributes; *a; a += 2) {
            std::string ns, local;
            split(a[0], ns, local);
            self.root.attributes.emplace_back(local, a[1]);
        }
    }

    static void on_end(void* data, const XML_Char*) {
        auto& self = *static_cast<Parse*>(data);
        if (self.error) return;
        if (--self.depth == 0) self.root_closed = true;
    }

    static void on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        static_cast<Parse*>(data)->fail(StreamCondition::restricted_xml, "a DOCTYPE");
    }
    static void on_entity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*, const XML_Char*,
                          const XML_Char*, const XML_Char*) {
        static_cast<Parse*>(data)->fail(StreamCondition::restricted_xml, "an entity declaration");
    }
    static void on_comment(void* data, const XML_Char*) {
        static_cast<Parse*>(data)->fail(StreamCondition::restricted_xml, "a comment");
    }
    static void on_pi(void* data, const XML_Char*, const XML_Char*) {
        static_cast<Parse*>(data)->fail(StreamCondition::restricted_xml, "a processing instruction");
    }
    static void on_xml_decl(void* data, const XML_Char*, const XML_Char* encoding, int) {
        auto& self = *static_cast<Parse*>(data);
        if (!self.limits->allow_xml_declaration)
            return self.fail(StreamCondition::not_well_formed, "an XML declaration");
        if (encoding && std::string_view(encoding) != "UTF-8" && std::string_view(encoding) != "utf-8")
            self.fail(StreamCondition::unsupported_encoding, "an encoding other than UTF-8");
    }
};

}  // namespace

std::variant<Element, ElementError> parse_element(std::string_view xml, const ElementLimits& limits) {
    // UTF-16 and UTF-32 start with NULs or a BOM expat would honour: only UTF-8 here.
    if (xml.size() >= 2 && (xml[0] == '\0' || xml[1] == '\0' || static_cast<unsigned char>(xml[0]) == 0xfe ||
                            static_cast<unsigned char>(xml[0]) == 0xff))
        return ElementError{StreamCondition::unsupported_encoding, "not UTF-8"};
    Parse p;
    p.limits = &limits;
    std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(
        XML_ParserCreateNS("UTF-8", kSeparator), &XML_ParserFree);
    if (!parser) throw std::bad_alloc();
    p.parser = parser.get();
    XML_SetUserData(p.parser, &p);
    salt_parser(p.parser);
    XML_SetParamEntityParsing(p.parser, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetXmlDeclHandler(p.parser, &Parse::on_xml_decl);
    XML_SetStartDoctypeDeclHandler(p.parser, &Parse::on_doctype);
    XML_SetEntityDeclHandler(p.parser, &Parse::on_entity);
    XML_SetCommentHandler(p.parser, &Parse::on_comment);
    XML_SetProcessingInstructionHandler(p.parser, &Parse::on_pi);
    XML_SetElementHandler(p.parser, &Parse::on_start, &Parse::on_end);
    if (xml.size() > static_cast<std::size_t>(INT32_MAX))
        return ElementError{StreamCondition::policy_violation, "too large"};
    const auto status = XML_Parse(p.parser, xml.data(), static_cast<int>(xml.size()), XML_TRUE);
    if (p.error) return *p.error;
    if (status != XML_STATUS_OK) {
        std::string why = XML_ErrorString(XML_GetErrorCode(p.parser));
        return ElementError{StreamCondition::not_well_formed, "not one well-formed element: " + why};
    }
    if (!p.root_closed) return ElementError{StreamCondition::not_well_formed, "not one complete element"};
    return std::move(p.root);
}

}  // namespace ward::xmpp::web
