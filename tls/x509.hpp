// SPDX-License-Identifier: Apache-2.0
#pragma once
// X.509 and PEM helpers shared by whatever reads certificates: the TLS contexts, the XMPP
// identity rules, the PKI and certificate import tools. No policy here: callers decide what a
// name means.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls {

// PEM input; failures name the file. Other PEM blocks in the file (e.g. a key next to the
// certificates) are skipped. Encrypted keys are refused rather than prompted for.
Result<UniqueX509> read_certificate_pem(const std::filesystem::path& path);               // first cert
Result<std::vector<UniqueX509>> read_certificates_pem(const std::filesystem::path& path);  // all certs
Result<UniquePkey> read_private_key_pem(const std::filesystem::path& path);

// Subject CN entries as UTF-8, in DER order. Entries are returned verbatim, embedded NULs
// included, so name matching can reject them; entries that are not valid strings are skipped.
// `unreadable`, when given, counts the CN entries that are not valid strings (they are left out).
std::vector<std::string> subject_common_names(X509* cert, std::size_t* unreadable = nullptr);
// RFC 2253 style with ", " separators, most specific first, UTF-8: "CN=x, O=ward".
std::string subject_oneline(X509* cert);
std::string issuer_oneline(X509* cert);
// A name as subject_oneline writes it.
std::string name_oneline(X509_NAME* name);
// "AB:CD:..." upper-case hex of the SHA-256 of the DER certificate.
std::string sha256_fingerprint(X509* cert);

}  // namespace ward::tls
