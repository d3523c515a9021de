// SPDX-License-Identifier: Apache-2.0
#include "config/config.hpp"

#include <algorithm>

#include "config/values.hpp"

namespace ward::config {

std::string_view to_string(SecurityMode v) { return enum_name(v); }
std::string_view to_string(FipsProvider v) { return enum_name(v); }
std::string_view to_string(CrlMissing v) { return enum_name(v); }
std::string_view to_string(OcspCheck v) { return enum_name(v); }
std::string_view to_string(CrlCheck v) { return enum_name(v); }
std::string_view to_string(VerifyPeer v) { return enum_name(v); }
std::string_view to_string(TlsVersion v) { return enum_name(v); }
std::string_view to_string(LogLevel v) { return enum_name(v); }
std::string_view to_string(Protocol v) { return enum_name(v); }
std::string_view to_string(ExchangeAuth v) { return enum_name(v); }
std::string_view to_string(ProxyProtocol v) { return enum_name(v); }

bool Network::contains(bool address_v6, const std::uint8_t* address) const {
    std::array<std::uint8_t, 16> a{};
    std::size_t n = address_v6 ? 16 : 4;
    std::copy_n(address, n, a.begin());
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (address_v6 && std::equal(kMapped, kMapped + 12, a.begin())) {
        std::copy_n(address + 12, 4, a.begin());
        std::fill(a.begin() + 4, a.end(), 0);
        address_v6 = false;
        n = 4;
    }
    if (address_v6 != v6) return false;
    unsigned bits = prefix;
    for (std::size_t i = 0; i < n && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
        if ((a[i] & mask) != (bytes[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

bool is_outbound(Protocol p) {
    return p == Protocol::tls_outbound || p == Protocol::sip_outbound || p == Protocol::xmpp_server_outbound ||
           p == Protocol::exchange_egress;
}

bool is_xmpp(Protocol p) {
    switch (p) {
        case Protocol::xmpp_client:
        case Protocol::xmpp_client_tls:
        case Protocol::xmpp_server:
        case Protocol::xmpp_server_tls:
        case Protocol::xmpp_server_outbound:
        case Protocol::xmpp_web: return true;
        default: return false;
    }
}

Mark SourceMap::find(std::string_view path) const {
    std::string p(path);
    for (;;) {
        if (auto it = marks_.find(p); it != marks_.end()) return it->second;
        // Drop the last component: "a.b[2]" -> "a.b" -> "a".
        const auto cut = p.find_last_of(".[");
        if (cut == std::string::npos || cut == 0) break;
        p.resize(cut);
    }
    if (auto it = marks_.find(""); it != marks_.end()) return it->second;
    return {};
}

namespace {

template <class T>
const T* find_named(const std::vector<T>& items, std::string_view name) {
    for (const auto& item : items)
        if (item.name == name) return &item;
    return nullptr;
}

}  // namespace

const Certificate* Config::find_certificate(std::string_view name) const { return find_named(certificates, name); }
const TrustStore* Config::find_trust_store(std::string_view name) const { return find_named(trust_stores, name); }
const TlsContext* Config::find_tls_context(std::string_view name) const { return find_named(tls_contexts, name); }

const PeerSubject* Config::find_peer_subject(std::string_view subject) const {
    const auto want = lower(subject);
    for (const auto& s : tls_peer_subjects)
        if (lower(s.subject) == want) return &s;
    return nullptr;
}

bool Config::same_settings(const Config& o) const {
    return node == o.node && user == o.user && pid_file == o.pid_file && security == o.security && certificates == o.certificates &&
           trust_stores == o.trust_stores && tls_peer_subjects == o.tls_peer_subjects &&
           tls_contexts == o.tls_contexts && listeners == o.listeners && workers == o.workers &&
           limits == o.limits && metrics == o.metrics && admin == o.admin && logging == o.logging &&
           cluster == o.cluster;
}

}  // namespace ward::config
