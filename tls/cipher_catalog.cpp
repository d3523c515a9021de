// SPDX-License-Identifier: Apache-2.0
#include "tls/cipher_catalog.hpp"

#include <strings.h>

#include <openssl/ssl.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls {

namespace {

using config::SecurityMode;

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

}  // namespace

CipherCatalog::CipherCatalog() {
    detail::for_each_library_cipher([this](const SSL_CIPHER* c) {
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
        ciphers_.push_back(std::move(info));
    });
    clear_openssl_errors();
}

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
