// SPDX-License-Identifier: Apache-2.0
#include "tls/security_policy.hpp"

#include <strings.h>

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "tls/openssl_error.hpp"

namespace ward::tls {

using config::SecurityMode;

namespace {

std::string curve_name(EVP_PKEY* key) {
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", name, sizeof name, &len) != 1) {
        clear_openssl_errors();
        return {};
    }
    return name;
}

bool is_nist_curve(const std::string& c) {
    return c == "prime256v1" || c == "P-256" || c == "secp384r1" || c == "P-384" || c == "secp521r1" ||
           c == "P-521";
}

std::string mode_text(SecurityMode m) { return std::string(config::to_string(m)); }

}  // namespace

std::string describe_key(X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (!key) return "no key";
    const int bits = EVP_PKEY_get_bits(key);
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) return "RSA-" + std::to_string(bits);
    if (EVP_PKEY_is_a(key, "EC")) return "EC " + curve_name(key);
    if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519";
    if (EVP_PKEY_is_a(key, "ED448")) return "Ed448";
    const char* name = EVP_PKEY_get0_type_name(key);
    return std::string(name ? name : "unknown") + "-" + std::to_string(bits);
}

std::optional<std::string> SecurityPolicy::check_certificate(X509* cert, CertRole role,
                                                             bool self_signed_anchor) const {
    const bool fips = config::at_least_fips(mode_);
    const bool cc = mode_ == SecurityMode::common_criteria;
    EVP_PKEY* key = X509_get0_pubkey(cert);
    clear_openssl_errors();
    if (!key) return "its public key cannot be read";

    // Keys: 112 bits of strength at least (NIST SP 800-131A) in every mode; in fips modes
    // only approved key types.
    const int bits = EVP_PKEY_get_bits(key);
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
        if (bits < 2048) return describe_key(cert) + " is too small: RSA keys need at least 2048 bits";
    } else if (EVP_PKEY_is_a(key, "EC")) {
        const auto curve = curve_name(key);
        if (fips && !is_nist_curve(curve))
            return "EC curve " + curve + " is not allowed in " + mode_text(mode_) +
                   " mode (P-256, P-384 or P-521 only)";
        if (bits < 224) return describe_key(cert) + " is too small: EC keys need at least 224 bits";
    } else if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
        if (fips) return describe_key(cert) + " keys are not approved in " + mode_text(mode_) + " mode";
    } else {
        return describe_key(cert) + " keys are not supported";
    }

    // Signature: never MD5 or SHA-1 (a trust anchor's self-signature is not relied upon).
    if (!self_signed_anchor) {
        int md_nid = NID_undef;
        if (X509_get_signature_info(cert, &md_nid, nullptr, nullptr, nullptr) == 1) {
            if (md_nid == NID_sha1 || md_nid == NID_md5 || md_nid == NID_md5_sha1 || md_nid == NID_md4)
                return std::string("it is signed with ") + OBJ_nid2sn(md_nid) +
                       ", which is not allowed for certificate signatures";
        }
        clear_openssl_errors();
    }

    if (!cc) return std::nullopt;

    // Common Criteria (FIA_X509_EXT.1): X.509 v3, CA flag on issuers, EKU on end entities.
    if (X509_get_version(cert) != X509_VERSION_3)
        return "it is an X.509 v" + std::to_string(X509_get_version(cert) + 1) +
               " certificate; common-criteria mode accepts X.509 v3 only";
    const std::uint32_t flags = X509_get_extension_flags(cert);
    if (role == CertRole::ca) {
        if (!(flags & EXFLAG_CA)) return "it issues certificates but has no basicConstraints CA:TRUE";
        return std::nullopt;
    }
    if (role == CertRole::end_entity) return std::nullopt;
    const std::uint32_t eku = X509_get_extended_key_usage(cert);
    if (!(flags & EXFLAG_XKUSAGE))
        return std::string("it has no extended key usage; common-criteria mode needs ") +
               (role == CertRole::server ? "serverAuth" : "clientAuth");
    if (role == CertRole::server && !(eku & XKU_SSL_SERVER)) return "its extended key usage lacks serverAuth";
    if (role == CertRole::client && !(eku & XKU_SSL_CLIENT)) return "its extended key usage lacks clientAuth";
    return std::nullopt;
}

std::optional<std::string> SecurityPolicy::check_group(std::string_view group) const {
    auto is = [&](std::initializer_list<const char*> names) {
        return std::any_of(names.begin(), names.end(), [&](const char* n) {
            return group.size() == std::char_traits<char>::length(n) &&
                   strncasecmp(group.data(), n, group.size()) == 0;
        });
    };
    const bool nist = is({"P-256", "P-384", "P-521", "prime256v1", "secp384r1", "secp521r1"});
    const bool ffdhe = is({"ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"});
    const bool montgomery = is({"X25519", "X448"});
    if (mode_ == SecurityMode::standard) {
        if (nist || ffdhe || montgomery) return std::nullopt;
        return "'" + std::string(group) + "' is not a recommended group (P-256, P-384, P-521, X25519, X448, ffdhe*)";
    }
    if (mode_ == SecurityMode::common_criteria) {
        if (nist) return std::nullopt;
        return "'" + std::string(group) + "' is not allowed in common-criteria mode (P-256, P-384, P-521 only)";
    }
    if (nist || ffdhe) return std::nullopt;
    return "'" + std::string(group) + "' is not allowed in " + mode_text(mode_) +
           " mode: approved groups are P-256, P-384, P-521 and ffdhe2048 or larger";
}

std::vector<std::string> SecurityPolicy::default_groups() const {
    if (mode_ == SecurityMode::standard) return {"X25519", "P-256", "P-384"};
    return {"P-256", "P-384"};
}

std::string SecurityPolicy::sigalgs() const {
    if (mode_ == SecurityMode::standard)
        return "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:ed448:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:"
               "rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA256:"
               "RSA+SHA384:RSA+SHA512";
    // Approved: ECDSA and RSA (PSS first) with SHA-2; no SHA-1, no EdDSA.
    return "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
           "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512";
}

}  // namespace ward::tls
