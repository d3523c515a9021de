// SPDX-License-Identifier: Apache-2.0
// The session's PROXY protocol steps: the header a trusted load balancer sends first (and the
// per-source admission of the client it names), and the header ward writes to a backend.
#include <algorithm>
#include <array>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proxy/engine/proxy_header.hpp"
#include "proxy/engine/session.hpp"

namespace ward::proxy {

namespace {

std::array<std::uint8_t, 16> address_bytes(const asio::ip::address& a) {
    std::array<std::uint8_t, 16> out{};
    if (a.is_v4()) {
        const auto b = a.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), out.begin());
    } else {
        out = a.to_v6().to_bytes();
    }
    return out;
}

proxy_v2::Address header_address(asio::ip::address a, std::uint16_t port) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    proxy_v2::Address out;
    out.family = a.is_v4() ? proxy_v2::Address::Family::inet : proxy_v2::Address::Family::inet6;
    out.bytes = address_bytes(a);
    out.port = port;
    return out;
}

tcp::endpoint header_endpoint(const proxy_v2::Address& a) {
    if (a.family == proxy_v2::Address::Family::inet) {
        asio::ip::address_v4::bytes_type b{};
        std::copy_n(a.bytes.begin(), 4, b.begin());
        return {asio::ip::address_v4(b), a.port};
    }
    return {asio::ip::address_v6(a.bytes), a.port};
}

}  // namespace

bool from_trusted_balancer(const std::vector<config::Network>& trusted, const asio::ip::address& address) {
    if (trusted.empty()) return false;
    const auto bytes = address_bytes(address);
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const config::Network& n) { return n.contains(address.is_v6(), bytes.data()); });
}

SourceKey source_key(const asio::ip::address& address) {
    SourceKey key;
    if (address.is_v4()) {
        key.bytes = asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes();
        return key;
    }
    const auto v6 = address.to_v6();
    key.bytes = v6.to_bytes();
    // An IPv6 client is counted by its /64, the usual end-site subnet: one host can use a new
    // address of its /64 for every connection.
    if (!v6.is_v4_mapped()) std::fill(key.bytes.begin() + 8, key.bytes.end(), 0);
    return key;
}

awaitable<bool> Session::accept_proxy_header() {
    if (!from_trusted_balancer(listener_.accept_proxy_protocol, peer_ip_)) co_return true;  // the client itself
    enter(Phase::handshake);
    negotiation_deadline();
    // Read exactly the header: what follows it is the client's (a ClientHello, a stream header).
    std::string header;
    std::array<char, 512> chunk{};
    proxy_v2::Parsed parsed;
    for (;;) {
        parsed = proxy_v2::parse(header);
        if (parsed.status != proxy_v2::Parsed::Status::need_more) break;
        const auto want = std::min(parsed.length - header.size(), chunk.size());
        auto [ec, n] = co_await client_.read_some(chunk.data(), want);
        if (ec) {
            // (A timeout aborted the session with its reason already.)
            summary_.fail(ec, "no complete PROXY header from the load balancer within the negotiation's " +
                                  std::to_string(listener_.limits.handshake_timeout.count()) + "ms");
            metrics_->proxy_headers_refused.fetch_add(1, std::memory_order_relaxed);
            co_return false;
        }
        header.append(chunk.data(), n);
    }
    if (parsed.status == proxy_v2::Parsed::Status::invalid) {
        summary_.fail(make_error_code(Errc::protocol_error), "PROXY header refused: " + parsed.error);
        metrics_->proxy_headers_refused.fetch_add(1, std::memory_order_relaxed);
        co_return false;
    }
    const auto& h = parsed.header;
    if (!h.local && h.source.family != proxy_v2::Address::Family::unspec) {
        via_ = peer_text();
        const auto source = header_endpoint(h.source);
        peer_ip_ = source.address();
        peer_port_ = source.port();
        proxied_destination_ = header_endpoint(h.destination);
        // The client's own per-source limits, now that it is known.
        if (!admit_named_client()) co_return false;
    }
    co_return true;
}

bool Session::admit_named_client() {
    const auto& per_source = listener_.limits.per_source;
    const auto key = source_key(peer_ip_);
    const auto verdict = metrics_->sources.admit(key, per_source.connections, per_source.handshakes_per_second);
    if (metrics_->refused_by_source(verdict)) {
        summary_.fail(make_error_code(Errc::limit_exceeded),
                      verdict == SourceLimiter::Verdict::too_fast
                          ? "per_source.handshakes_per_second reached for this client"
                          : "per_source.connections reached for this client");
        return false;
    }
    if (verdict == SourceLimiter::Verdict::admitted) source_ = key;
    return true;
}

std::string Session::proxy_header() {
    proxy_v2::Header h;
    h.source = header_address(peer_ip_, peer_port_);
    if (proxied_destination_) {
        h.destination = header_address(proxied_destination_->address(), proxied_destination_->port());
    } else {
        error_code ec;
        const auto local = client_.socket().local_endpoint(ec);
        if (!ec) h.destination = header_address(local.address(), local.port());
    }
    if (SSL* ssl = client_.is_tls() ? client_.ssl() : nullptr) {
        auto& t = h.tls;
        t.present = true;
        t.version = SSL_get_version(ssl);
        t.cipher = SSL_get_cipher_name(ssl);
        if (SSL_get0_peer_certificate(ssl)) {
            t.cert_sess = true;
            t.cert_conn = SSL_session_reused(ssl) == 0;
            t.verify = static_cast<std::uint32_t>(SSL_get_verify_result(ssl));
            // Only an identity ward verified is named (verify 0 then). One too long for the
            // header cannot be named: the backend is told nothing was verified rather than
            // left with a verified connection and no name.
            if (t.verify == X509_V_OK && summary_.subject.size() <= proxy_v2::kMaxValue)
                t.common_name = summary_.subject;
            else if (t.verify == X509_V_OK)
                t.verify = 1;
        }
        const unsigned char* alpn = nullptr;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        if (alpn) h.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
        if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) h.authority = sni;
    }
    return proxy_v2::encode(h);
}

}  // namespace ward::proxy
