// SPDX-License-Identifier: Apache-2.0
#pragma once
// What each security mode (DESIGN.md section 1) demands of keys, certificates, groups and
// signature algorithms. The cipher rules live in CipherCatalog::allowed.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "config/config.hpp"

namespace ward::tls {

// What a certificate is used for, which decides the extended key usage it needs.
enum class CertRole {
    server,  // presented by a TLS server: needs serverAuth (common-criteria)
    client,  // presented by a TLS client: needs clientAuth (common-criteria)
    ca,      // an issuer in a chain: needs basicConstraints CA:TRUE (common-criteria)
    end_entity,  // an end-entity certificate whose role is not known yet: no usage rule
};

class SecurityPolicy {
public:
    explicit SecurityPolicy(config::SecurityMode mode) : mode_(mode) {}
    config::SecurityMode mode() const { return mode_; }

    // Why the mode forbids this certificate in this role, or nothing when it is allowed. Checks
    // the public key (type and size), the signature's digest, the version and, in
    // common-criteria mode, basicConstraints and extended key usage. `self_signed_anchor`
    // skips the signature rule for a trust anchor's own self-signature.
    std::optional<std::string> check_certificate(X509* cert, CertRole role, bool self_signed_anchor = false) const;

    // Why the mode forbids a key exchange group (OpenSSL group name), or nothing.
    std::optional<std::string> check_group(std::string_view group) const;
    std::vector<std::string> default_groups() const;
    // The signature algorithms list for SSL_CTX_set1_sigalgs_list ("" = OpenSSL's default).
    std::string sigalgs() const;

private:
    config::SecurityMode mode_;
};

// A certificate's key as text for messages, e.g. "RSA-1024", "EC P-256".
std::string describe_key(X509* cert);

}  // namespace ward::tls
