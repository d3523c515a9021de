// SPDX-License-Identifier: Apache-2.0
#pragma once
// One complete XML element, checked on its own (a BOSH <body/>, an RFC 7395 WebSocket message),
// over expat with the stream tokenizer's rules: restricted XML refused at its first token (no
// DOCTYPE, so nothing is ever expanded; no comment, no processing instruction), undeclared
// prefixes and undefined entities are errors, only UTF-8, and its depth and attribute limits.
// Nothing but white space may surround the element.
#include <optional>
#include <variant>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp::web {

struct ElementLimits {
    std::size_t max_depth = TokenizerLimits{}.max_depth;
    std::size_t max_attributes = TokenizerLimits{}.max_attributes;
    bool allow_xml_declaration = false;  // `<?xml version='1.0'?>` (UTF-8 only) before it
};

struct Element {
    std::string ns;          // the root's resolved namespace ("" if none)
    std::string local_name;  // the root's local name
    // The root's attributes other than namespace declarations, local names as written
    // (`xmpp:restart` as "restart" in its namespace is not distinguished: ward reads sid, rid,
    // wait, which have no prefix).
    std::vector<std::pair<std::string, std::string>> attributes;

    std::optional<std::string_view> attribute(std::string_view name) const;
};

struct ElementError {
    StreamCondition condition;  // not-well-formed, restricted-xml, policy-violation, ...
    std::string detail;         // for the log; never contains the input
};

// The element, or why `xml` is not exactly one.
std::variant<Element, ElementError> parse_element(std::string_view xml, const ElementLimits& limits = {});

}  // namespace ward::xmpp::web
