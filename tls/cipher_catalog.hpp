// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every TLS 1.2 cipher and TLS 1.3 suite the linked OpenSSL offers, by OpenSSL and IANA name,
// and which of them each security mode allows.
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace ward::tls {

struct CipherInfo {
    std::string openssl_name;  // ECDHE-ECDSA-AES128-GCM-SHA256, TLS_AES_128_GCM_SHA256
    std::string iana_name;     // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    unsigned id = 0;           // the two-byte code point
    bool tls13 = false;        // a TLS 1.3 suite (else usable with TLS 1.2 and older)
    std::string kx;            // key exchange: ECDHE, DHE, RSA, PSK, any (TLS 1.3)
    std::string auth;          // authentication: ECDSA, RSA, any (TLS 1.3), PSK, none
    std::string cipher;        // AES-128-GCM, ChaCha20-Poly1305, AES-256-CBC, ...
    std::string mac;           // AEAD, SHA1, SHA256, SHA384
    int bits = 0;
};

class CipherCatalog {
public:
    // Built once from the linked OpenSSL, on first use.
    static const CipherCatalog& instance();

    const std::vector<CipherInfo>& all() const { return ciphers_; }
    // By OpenSSL or IANA name, case-insensitively.
    const CipherInfo* find(std::string_view name) const;

    // Whether `mode` allows the cipher; when it does not, `why` says which rule forbids it.
    static bool allowed(const CipherInfo& c, config::SecurityMode mode, std::string* why = nullptr);
    // The ciphers a mode allows, in catalog order.
    std::vector<const CipherInfo*> available(config::SecurityMode mode) const;
    // What a context without a `ciphers` list gets in each mode (OpenSSL names).
    static std::vector<std::string> defaults(config::SecurityMode mode);

private:
    CipherCatalog();
    std::vector<CipherInfo> ciphers_;
};

namespace detail {
// Every TLS 1.2 cipher and TLS 1.3 suite the linked library offers, whatever a policy or the FIPS
// provider would leave, described (cipher_catalog_openssl.cpp, cipher_catalog_wolfssl.cpp).
std::vector<CipherInfo> library_ciphers();
}  // namespace detail

}  // namespace ward::tls
