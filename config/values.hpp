// SPDX-License-Identifier: Apache-2.0
#pragma once
// Parsing and printing of the value types the configuration uses: durations, sizes, enums,
// endpoints. Shared by the loader and the writer so that a round trip gives the same model.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace ward::config {

std::optional<Duration> parse_duration(std::string_view s);
std::string format_duration(Duration d);
std::optional<std::uint64_t> parse_size(std::string_view s);
std::string format_size(std::uint64_t bytes);

// host:port or [v6]:port. A bind address must be an IP literal, `*` or `localhost`; a backend
// may also be a host name. On failure `why` completes "'<text>' <why>".
std::optional<Endpoint> parse_endpoint(std::string_view s, bool bind, std::string& why);
bool is_loopback(std::string_view host);
// A cluster or node name: 1 to 64 letters, digits, '.', '_' or '-', not "." or ".." (it goes
// into etcd keys and file names). Defined in cluster.cpp.
bool is_cluster_name(std::string_view name);
// A DNS host name: dot-separated labels of letters, digits and hyphens, 1-63 bytes each, 253 in
// all; `allow_underscore` also takes '_' (service names some resolvers serve).
bool is_host_name(std::string_view host, bool allow_underscore = true);
// An IPv4 or IPv6 address (no brackets), not a DNS name.
bool is_ip_literal(std::string_view host);
// a.b.c.d[/0-32] or IPv6[/0-128] (no brackets); on failure `why` completes "'<text>' <why>".
std::optional<Network> parse_network(std::string_view s, std::string& why);
// Two bind hosts on the same port collide when equal or when either is a wildcard of the
// other's family.
bool binds_overlap(std::string_view a, std::string_view b);

// Index of the first byte that is not part of valid UTF-8, or npos.
std::size_t first_invalid_utf8(std::string_view s);
// RFC 3261 token, as a header field name.
bool is_sip_token(std::string_view s);
// A SIP header ward itself reads or rewrites (framing, error answers, edge routing), which
// therefore cannot be the identity header; compact forms included, case-insensitive.
bool is_reserved_sip_header(std::string_view name);
std::string lower(std::string_view s);
// An HTTP path ward routes on: '/' then segments of unreserved characters and "-._~!$&'()*+,;=:@"
// (no '%', so it has one spelling), no empty, "." or ".." segment, no query or fragment.
bool is_http_path(std::string_view s);
// An origin as browsers send it (RFC 6454): scheme "http" or "https", a host (DNS name, IPv4,
// or [IPv6]) and an optional port, nothing after. Lower-cased, the scheme's default port
// dropped; nullopt when it is not one.
std::optional<std::string> normalize_origin(std::string_view s);

template <class E>
struct EnumTable;

#define WARD_ENUM_TABLE(E, ...)                                                     \
    template <>                                                                     \
    struct EnumTable<E> {                                                           \
        static constexpr std::pair<std::string_view, E> entries[] = {__VA_ARGS__};  \
    }

WARD_ENUM_TABLE(SecurityMode, {"standard", SecurityMode::standard}, {"fips", SecurityMode::fips},
                {"enhanced", SecurityMode::enhanced}, {"common-criteria", SecurityMode::common_criteria});
WARD_ENUM_TABLE(FipsProvider, {"required", FipsProvider::required}, {"policy-only", FipsProvider::policy_only});
WARD_ENUM_TABLE(CrlMissing, {"reject", CrlMissing::reject}, {"accept", CrlMissing::accept});
WARD_ENUM_TABLE(OcspCheck, {"off", OcspCheck::off}, {"prefer", OcspCheck::prefer}, {"require", OcspCheck::require});
WARD_ENUM_TABLE(CrlCheck, {"if_present", CrlCheck::if_present}, {"require", CrlCheck::require});
WARD_ENUM_TABLE(VerifyPeer, {"required", VerifyPeer::required}, {"optional", VerifyPeer::optional},
                {"none", VerifyPeer::none});
WARD_ENUM_TABLE(TlsVersion, {"TLS1.0", TlsVersion::tls1_0}, {"TLS1.1", TlsVersion::tls1_1},
                {"TLS1.2", TlsVersion::tls1_2}, {"TLS1.3", TlsVersion::tls1_3});
WARD_ENUM_TABLE(LogLevel, {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
                {"warn", LogLevel::warn}, {"error", LogLevel::error});
WARD_ENUM_TABLE(Protocol, {"tls", Protocol::tls}, {"tls-outbound", Protocol::tls_outbound}, {"sip", Protocol::sip},
                {"sip-outbound", Protocol::sip_outbound},
                {"sip-return", Protocol::sip_return}, {"xmpp-client", Protocol::xmpp_client},
                {"xmpp-client-tls", Protocol::xmpp_client_tls}, {"xmpp-server", Protocol::xmpp_server},
                {"xmpp-server-tls", Protocol::xmpp_server_tls},
                {"xmpp-server-outbound", Protocol::xmpp_server_outbound}, {"xmpp-web", Protocol::xmpp_web},
                {"exchange-egress", Protocol::exchange_egress});
WARD_ENUM_TABLE(ExchangeAuth, {"auto", ExchangeAuth::automatic}, {"basic-only", ExchangeAuth::basic_only});
WARD_ENUM_TABLE(ProxyProtocol, {"off", ProxyProtocol::off}, {"v2", ProxyProtocol::v2});
#undef WARD_ENUM_TABLE

template <class E>
std::optional<E> parse_enum(std::string_view s) {
    for (const auto& [name, value] : EnumTable<E>::entries)
        if (name == s) return value;
    return std::nullopt;
}

template <class E>
std::string_view enum_name(E e) {
    for (const auto& [name, value] : EnumTable<E>::entries)
        if (value == e) return name;
    return "?";
}

template <class E>
std::vector<std::string_view> enum_names() {
    std::vector<std::string_view> out;
    for (const auto& entry : EnumTable<E>::entries) out.push_back(entry.first);
    return out;
}

}  // namespace ward::config
