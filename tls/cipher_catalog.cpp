// SPDX-License-Identifier: Apache-2.0
#include "tls/cipher_catalog.hpp"

#include <strings.h>

#include <openssl/ssl.h>


namespace ward::tls {

using config::SecurityMode;

CipherCatalog::CipherCatalog() : ciphers_(detail::library_ciphers()) {}

const CipherCatalog& CipherCatalog::instance() {
    static const CipherCatalog catalog;
    return catalog;
}

const CipherInfo* CipherCatalog::find(std::string_view name) const {
    for (const auto& c : ciphers_) {
        if ((c.openssl_name.size() == name.size() &&
             strncasecmp(c.openssl_name.c_str(), name.data(), name.size()) == 0) ||
            (c.iana_name.size() == name.size() && strncasecmp(c.iana_name.c_str(), name.data(), name.size()) == 0))
            return &c;
    }
    return nullptr;
}

bool CipherCatalog::allowed(const CipherInfo& c, SecurityMode mode, std::string* why) {
    auto refuse = [&](std::string reason) {
        if (why) *why = std::move(reason);
        return false;
    };
    // Never, in any mode: no authentication, no encryption, pre-shared keys or SRP (ward has
    // no PSK configuration), or anything weaker than 128 bits.
    if (c.auth == "none") return refuse("it has no authentication (anonymous key exchange)");
    if (c.cipher == "none" || c.bits == 0) return refuse("it does not encrypt");
    if (c.kx == "PSK" || c.auth == "PSK" || c.kx == "SRP" || c.auth == "SRP")
        return refuse("pre-shared-key and SRP ciphers need credentials ward does not configure");
    if (c.bits < 128) return refuse("it has fewer than 128 bits of strength");
    if (c.auth == "DSS") return refuse("DSA authentication is obsolete");
    if (c.cipher == "RC4") return refuse("RC4 is broken and prohibited in TLS (RFC 7465)");
    if (mode == SecurityMode::standard) return true;

    // FIPS 140 (fips, enhanced): approved algorithms only, and forward secrecy.
    const bool aes = c.cipher.rfind("AES-", 0) == 0;
    if (!aes) return refuse(c.cipher + " is not a FIPS-approved cipher");
    if (c.openssl_name.find("CCM8") != std::string::npos || c.openssl_name.find("CCM_8") != std::string::npos)
        return refuse("AES-CCM with an 8-byte tag is not allowed in " + std::string(config::to_string(mode)) +
                      " mode");
    if (!c.tls13 && c.kx != "ECDHE" && c.kx != "DHE")
        return refuse("RSA key transport has no forward secrecy and is not allowed in " +
                      std::string(config::to_string(mode)) + " mode");
    if (mode != SecurityMode::common_criteria) return true;

    // Common Criteria (TLS package 2.x, CNSA suite): AES-256-GCM with ECDHE or DHE only.
    if (c.cipher != "AES-256-GCM")
        return refuse("common-criteria mode allows AES-256-GCM suites only (CNSA), not " + c.cipher);
    if (!c.tls13 && c.kx != "ECDHE" && c.kx != "DHE") return refuse("common-criteria mode needs (EC)DHE");
    return true;
}

std::vector<const CipherInfo*> CipherCatalog::available(SecurityMode mode) const {
    std::vector<const CipherInfo*> out;
    for (const auto& c : ciphers_)
        if (allowed(c, mode)) out.push_back(&c);
    return out;
}

std::vector<std::string> CipherCatalog::defaults(SecurityMode mode) {
    switch (mode) {
        case SecurityMode::standard:
            return {"TLS_AES_256_GCM_SHA384",        "TLS_CHACHA20_POLY1305_SHA256",
                    "TLS_AES_128_GCM_SHA256",        "ECDHE-ECDSA-AES256-GCM-SHA384",
                    "ECDHE-RSA-AES256-GCM-SHA384",   "ECDHE-ECDSA-CHACHA20-POLY1305",
                    "ECDHE-RSA-CHACHA20-POLY1305",   "ECDHE-ECDSA-AES128-GCM-SHA256",
                    "ECDHE-RSA-AES128-GCM-SHA256"};
        case SecurityMode::fips:
        case SecurityMode::enhanced:
            return {"TLS_AES_256_GCM_SHA384",      "TLS_AES_128_GCM_SHA256",        "ECDHE-ECDSA-AES256-GCM-SHA384",
                    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"};
        case SecurityMode::common_criteria:
            return {"TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"};
    }
    return {};
}

}  // namespace ward::tls
