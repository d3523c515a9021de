// SPDX-License-Identifier: Apache-2.0
// The catalog's source on OpenSSL: an SSL_CTX that enables everything this libssl knows, at
// security level 0, in a library context of its own with the default provider, so the catalog
// lists what OpenSSL offers, not what a policy or the FIPS provider (when it is the process
// default) leaves; each cipher described by libssl's own accessors.
#include "tls/cipher_catalog.hpp"

#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls::detail {

namespace {

std::string nid_text(int nid) {
    if (nid == NID_undef) return "none";
    const char* sn = OBJ_nid2sn(nid);
    return sn ? sn : "?";
}

std::string kx_name(int nid) {
    switch (nid) {
        case NID_kx_ecdhe: return "ECDHE";
        case NID_kx_dhe: return "DHE";
        case NID_kx_rsa: return "RSA";
        case NID_kx_any: return "any";
        case NID_kx_psk: case NID_kx_ecdhe_psk: case NID_kx_dhe_psk: case NID_kx_rsa_psk: return "PSK";
        case NID_kx_srp: return "SRP";
        default: return nid_text(nid);
    }
}

std::string auth_name(int nid) {
    switch (nid) {
        case NID_auth_ecdsa: return "ECDSA";
        case NID_auth_rsa: return "RSA";
        case NID_auth_any: return "any";
        case NID_auth_psk: return "PSK";
        case NID_auth_null: return "none";
        case NID_auth_srp: return "SRP";
        case NID_auth_dss: return "DSS";
        default: return nid_text(nid);
    }
}

std::string cipher_name(int nid) {
    switch (nid) {
        case NID_aes_128_gcm: return "AES-128-GCM";
        case NID_aes_256_gcm: return "AES-256-GCM";
        case NID_aes_128_ccm: return "AES-128-CCM";
        case NID_aes_256_ccm: return "AES-256-CCM";
        case NID_aes_128_cbc: return "AES-128-CBC";
        case NID_aes_256_cbc: return "AES-256-CBC";
        case NID_chacha20_poly1305: return "ChaCha20-Poly1305";
        default: return nid_text(nid);
    }
}

CipherInfo describe(const SSL_CIPHER* c) {
    CipherInfo info;
    info.openssl_name = SSL_CIPHER_get_name(c);
    const char* std_name = SSL_CIPHER_standard_name(c);
    info.iana_name = std_name ? std_name : info.openssl_name;
    info.id = SSL_CIPHER_get_protocol_id(c);
    info.tls13 = std::string_view(SSL_CIPHER_get_version(c)) == "TLSv1.3";
    info.kx = kx_name(SSL_CIPHER_get_kx_nid(c));
    info.auth = auth_name(SSL_CIPHER_get_auth_nid(c));
    info.cipher = cipher_name(SSL_CIPHER_get_cipher_nid(c));
    if (SSL_CIPHER_is_aead(c)) {
        info.mac = "AEAD";
    } else {
        const int md = SSL_CIPHER_get_digest_nid(c);
        info.mac = md == NID_sha1 ? "SHA1" : md == NID_sha256 ? "SHA256" : md == NID_sha384 ? "SHA384"
                                                                                            : nid_text(md);
    }
    info.bits = SSL_CIPHER_get_bits(c, nullptr);
    return info;

}

}  // namespace

std::vector<CipherInfo> library_ciphers() {
    std::vector<CipherInfo> out;
    OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER* provider = libctx ? OSSL_PROVIDER_load(libctx, "default") : nullptr;
    UniqueSslCtx ctx(provider ? SSL_CTX_new_ex(libctx, nullptr, TLS_method()) : nullptr);
    if (ctx) {
        SSL_CTX_set_security_level(ctx.get(), 0);
        SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL");
        SSL_CTX_set_ciphersuites(ctx.get(),
                                 "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
                                 "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256");
        STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx.get());
        for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) out.push_back(describe(sk_SSL_CIPHER_value(list, i)));
    }
    ctx.reset();
    if (provider) OSSL_PROVIDER_unload(provider);
    OSSL_LIB_CTX_free(libctx);
    clear_openssl_errors();
    return out;
}

}  // namespace ward::tls::detail
