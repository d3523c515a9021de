// SPDX-License-Identifier: Apache-2.0
// Certificate choice on OpenSSL: every certificate of the first group on the context (one per
// key type; libssl picks by the client's signature algorithms), and the switch made in the
// ClientHello callback, before libssl selects any certificate.
#include "tls/sni.hpp"

#include <string>

namespace ward::tls {

namespace {

// The host_name of a server_name extension body (RFC 6066 section 3), or "".
std::string server_name_of(const unsigned char* p, std::size_t len) {
    if (len < 2) return {};
    const std::size_t list = (static_cast<std::size_t>(p[0]) << 8) | p[1];
    if (list + 2 != len) return {};
    std::size_t at = 2;
    while (at + 3 <= len) {
        const unsigned type = p[at];
        const std::size_t n = (static_cast<std::size_t>(p[at + 1]) << 8) | p[at + 2];
        at += 3;
        if (at + n > len) return {};
        if (type == TLSEXT_NAMETYPE_host_name) {
            std::string name(reinterpret_cast<const char*>(p + at), n);
            if (name.find('\0') != std::string::npos) return {};
            return name;
        }
        at += n;
    }
    return {};
}

int on_client_hello(SSL* ssl, int* alert, void* arg) {
    const auto* table = static_cast<const SniTable*>(arg);
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    std::string name;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) == 1) name = server_name_of(p, len);
    if (!table->choose(ssl, name)) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace

bool SniTable::use_group(SSL* ssl, std::size_t group) const {
    if (group == 0 || group >= groups_.size()) return true;
    SSL_certs_clear(ssl);
    for (const auto& e : groups_[group].entries)
        if (SSL_use_cert_and_key(ssl, e.leaf.get(), e.key.get(), e.chain.get(), 1) != 1) return false;
    return true;
}

bool SniTable::install(SSL_CTX* ctx) const {
    if (groups_.empty()) return false;
    for (const auto& e : groups_.front().entries)
        if (SSL_CTX_use_cert_and_key(ctx, e.leaf.get(), e.key.get(), e.chain.get(), 1) != 1) return false;
    if (groups_.size() > 1 || counters_) SSL_CTX_set_client_hello_cb(ctx, &on_client_hello, const_cast<SniTable*>(this));
    return true;
}

}  // namespace ward::tls
