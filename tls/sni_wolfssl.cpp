// SPDX-License-Identifier: Apache-2.0
// Certificate choice on wolfSSL: a context holds one certificate, so a group holds one (SniTable
// refuses a second); the switch is made in the certificate callback, which wolfSSL calls after
// reading the ClientHello's extensions and before choosing a cipher suite. The server name
// callback is set only so that wolfSSL keeps the name the client sent.
#include "tls/sni.hpp"

#include <string>

namespace ward::tls {

namespace {

bool use(SSL* ssl, X509* leaf, EVP_PKEY* key, STACK_OF(X509)* chain) {
    if (SSL_use_certificate(ssl, leaf) != 1 || SSL_use_PrivateKey(ssl, key) != 1) return false;
    for (int i = 0; chain && i < sk_X509_num(chain); ++i)
        if (SSL_add1_chain_cert(ssl, sk_X509_value(chain, i)) != 1) return false;
    return true;
}

int keep_server_name(SSL*, int*, void*) { return SSL_TLSEXT_ERR_OK; }

int on_certificate(SSL* ssl, void* arg) {
    const auto* table = static_cast<const SniTable*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return table->choose(ssl, name ? std::string_view(name) : std::string_view()) ? 1 : 0;
}

}  // namespace

bool SniTable::use_group(SSL* ssl, std::size_t group) const {
    if (group == 0 || group >= groups_.size()) return true;
    const auto& e = groups_[group].entries.front();
    return use(ssl, e.leaf.get(), e.key.get(), e.chain.get());
}

bool SniTable::install(SSL_CTX* ctx) const {
    if (groups_.empty() || groups_.front().entries.size() != 1) return false;
    const auto& e = groups_.front().entries.front();
    if (SSL_CTX_use_certificate(ctx, e.leaf.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, e.key.get()) != 1) return false;
    for (int i = 0; e.chain && i < sk_X509_num(e.chain.get()); ++i)
        if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(e.chain.get(), i)) != 1) return false;
    if (groups_.size() > 1 || counters_) {
        SSL_CTX_set_tlsext_servername_callback(ctx, keep_server_name);
        SSL_CTX_set_cert_cb(ctx, on_certificate, const_cast<SniTable*>(this));
    }
    return true;
}

}  // namespace ward::tls
