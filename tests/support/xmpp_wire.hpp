// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the XMPP tests write and compare on the wire, in one place: ward's stream error text,
// concatenation of expected byte runs, masking of ward's random stream ids, and certificate
// specs that name an XMPP server.
#include <initializer_list>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/ops/pki.hpp"

namespace ward::test::xmpp_wire {

// <stream:error><CONDITION .../></stream:error></stream:stream>, as ward writes it.
inline std::string error_text(std::string_view condition) {
    return "<stream:error><" + std::string(condition) +
           " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
}

inline std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (const auto p : parts) out += p;
    return out;
}

// Stream ids are random (RFC 6120 section 4.7.3): 32 hex digits, written as '*' here.
inline std::string masked(const std::string& text) {
    static const std::regex id("id='[0-9a-f]{32}'");
    return std::regex_replace(text, id, "id='*'");
}

// A certificate spec with these subject CNs and SAN identifiers (DNS-ID, SRV-ID, XmppAddr).
inline ops::CertSpec server_spec(std::vector<std::string> cns, std::vector<std::string> dns = {},
                                 std::vector<std::string> srv = {}, std::vector<std::string> addrs = {}) {
    ops::CertSpec spec;
    spec.common_names = std::move(cns);
    spec.dns_names = std::move(dns);
    spec.srv_names = std::move(srv);
    spec.xmpp_addrs = std::move(addrs);
    return spec;
}

}  // namespace ward::test::xmpp_wire
