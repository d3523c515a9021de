// SPDX-License-Identifier: Apache-2.0
// The catalog's source on wolfSSL: every suite this build was compiled with, read through a
// connection state of a context that enables them all. wolfSSL's per-cipher accessors answer
// for few TLS 1.3 suites, so each is described from its IANA name (RFC 8446 B.4 and the TLS
// 1.2 registry); a part this does not know leaves the suite without strength, which every
// mode refuses.
#include "tls/cipher_catalog.hpp"

#include <openssl/ssl.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls::detail {

namespace {

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

void describe_key_exchange(std::string_view kx_auth, CipherInfo& info) {
    if (kx_auth == "ECDHE_ECDSA") info.kx = "ECDHE", info.auth = "ECDSA";
    else if (kx_auth == "ECDHE_RSA") info.kx = "ECDHE", info.auth = "RSA";
    else if (kx_auth == "DHE_RSA") info.kx = "DHE", info.auth = "RSA";
    else if (kx_auth == "DHE_DSS") info.kx = "DHE", info.auth = "DSS";
    else if (kx_auth == "RSA") info.kx = "RSA", info.auth = "RSA";
    else if (kx_auth.find("anon") != std::string_view::npos) info.kx = "ECDHE", info.auth = "none";
    else if (kx_auth.find("PSK") != std::string_view::npos) info.kx = "PSK", info.auth = "PSK";
    else info.kx = std::string(kx_auth), info.auth = std::string(kx_auth);
}

// "AES_128_GCM_SHA256" and the like.
void describe_protection(std::string_view rest, CipherInfo& info) {
    struct Known {
        std::string_view prefix, name;
        int bits;
        bool aead;
    };
    static constexpr Known known[] = {
        {"AES_128_GCM_", "AES-128-GCM", 128, true},        {"AES_256_GCM_", "AES-256-GCM", 256, true},
        {"AES_128_CCM_8_", "AES-128-CCM", 128, true},      {"AES_256_CCM_8_", "AES-256-CCM", 256, true},
        {"AES_128_CCM_", "AES-128-CCM", 128, true},        {"AES_256_CCM_", "AES-256-CCM", 256, true},
        {"CHACHA20_POLY1305_", "ChaCha20-Poly1305", 256, true},
        {"AES_128_CBC_", "AES-128-CBC", 128, false},       {"AES_256_CBC_", "AES-256-CBC", 256, false},
        {"RC4_128_", "RC4", 128, false},
    };
    for (const auto& k : known) {
        if (!starts(rest, k.prefix)) continue;
        info.cipher = std::string(k.name);
        info.bits = k.bits;
        const auto mac = rest.substr(k.prefix.size());
        if (k.aead) info.mac = "AEAD";
        else info.mac = mac == "SHA" ? "SHA1" : std::string(mac);
        return;
    }
    info.cipher = std::string(rest);  // unknown: no strength, refused
    info.bits = 0;
    info.mac = "?";
}

CipherInfo describe(const SSL_CIPHER* c) {
    CipherInfo info;
    const char* std_name = SSL_CIPHER_standard_name(c);
    const std::string_view iana = std_name ? std_name : "";
    info.iana_name = std::string(iana);
    // (wolfSSL's SSL_CIPHER_get_version names the connection's version, not the suite's: a TLS
    // 1.3 suite is the one whose IANA name has no key exchange.)
    info.tls13 = starts(iana, "TLS_") && iana.find("_WITH_") == std::string_view::npos;
    // ward's configuration names TLS 1.3 suites as OpenSSL does (their IANA names), TLS 1.2
    // ciphers by OpenSSL's names, which wolfSSL shares.
    // (wolfSSL's SSL_CIPHER_get_id names the connection's suite: the code point comes by name.)
    unsigned char first = 0, second = 0;
    int flags = 0;
    const char* internal = nullptr;
    if (wolfSSL_get_cipher_suite_from_name(info.iana_name.c_str(), &first, &second, &flags) == 0) {
        info.id = (static_cast<unsigned>(first) << 8) | second;
        internal = wolfSSL_get_cipher_name_from_suite(first, second);
    }
    info.openssl_name = info.tls13 || internal == nullptr ? info.iana_name : internal;
    if (!starts(iana, "TLS_")) {
        info.cipher = info.iana_name;
        return info;
    }
    const auto body = iana.substr(4);
    if (info.tls13) {
        info.kx = "any";
        info.auth = "any";
        describe_protection(body, info);
        return info;
    }
    const auto with = body.find("_WITH_");
    if (with == std::string_view::npos) {
        info.cipher = info.iana_name;
        return info;
    }
    describe_key_exchange(body.substr(0, with), info);
    describe_protection(body.substr(with + 6), info);
    return info;
}

}  // namespace

std::vector<CipherInfo> library_ciphers() {
    std::vector<CipherInfo> out;
    UniqueSslCtx ctx(SSL_CTX_new(TLS_method()));
    if (ctx && SSL_CTX_set_cipher_list(ctx.get(), "ALL") == 1) {
        UniqueSsl ssl(SSL_new(ctx.get()));
        STACK_OF(SSL_CIPHER)* list = ssl ? SSL_get_ciphers(ssl.get()) : nullptr;
        for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) out.push_back(describe(sk_SSL_CIPHER_value(list, i)));
    }
    clear_openssl_errors();
    return out;
}

}  // namespace ward::tls::detail
