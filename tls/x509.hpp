// SPDX-License-Identifier: Apache-2.0
#pragma once
// X.509 and PEM helpers shared by whatever reads certificates: the TLS contexts, the XMPP
// identity rules, the PKI and certificate import tools. No policy here: callers decide what a
// name means.
#include <cstddef>
#include <filesystem>
#include <string_view>
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

// The certificate's DER ("" when it cannot be encoded).
std::string certificate_der(X509* cert);

// A certificate's subjectAltName, read from its DER by ward (tls/der.hpp), the same in both TLS
// flavours.
struct SubjectAltNames {
    bool present = false;
    bool unreadable = false;  // malformed, a name not of its type, or the extension twice
    std::vector<std::string> dns_names;
    std::vector<std::string> uris;
    std::vector<std::string> ip_addresses;  // the octets: 4 or 16
    struct OtherName {
        std::string type_id;          // the OBJECT IDENTIFIER element, whole (der::known_oid)
        unsigned char value_tag = 0;  // the tag of the value inside its [0] EXPLICIT
        std::string value;            // that value's content octets
    };
    std::vector<OtherName> other_names;
};
SubjectAltNames subject_alt_names(X509* cert);

// Whether an iPAddress entry of the subjectAltName holds exactly `address` (IPv4 or IPv6 text,
// any spelling inet_pton takes): RFC 6125's rule for an address, nothing else consulted.
bool names_ip_address(X509* cert, std::string_view address);

// Whether the certificate names the DNS host `host` (RFC 6125, as OpenSSL's X509_check_host
// with X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS): the subjectAltName's dNSName entries when it has
// any, else the subject CNs unless it presents a URI or otherName (RFC 6125 6.4.4, stricter
// than OpenSSL); a wildcard only as a whole left-most label over at least two more
// labels. Unreadable names name nothing. Checked by ward after every handshake where it asked
// for a host, whichever library verified the chain.
bool names_dns_host(X509* cert, std::string_view host);

// Subject CN entries as UTF-8, in DER order. Entries are returned verbatim, embedded NULs
// included, so name matching can reject them; entries that are not valid strings are skipped.
// `unreadable`, when given, counts the CN entries that are not valid strings (they are left out),
// and anything in the subject that is not a well-formed attribute (or a subject that cannot be
// read at all).
std::vector<std::string> subject_common_names(X509* cert, std::size_t* unreadable = nullptr);
// RFC 2253 style with ", " separators, most specific first, UTF-8: "CN=x, O=ward".
std::string subject_oneline(X509* cert);
std::string issuer_oneline(X509* cert);
// A name as subject_oneline writes it.
std::string name_oneline(X509_NAME* name);
// "AB:CD:..." upper-case hex of the SHA-256 of the DER certificate.
std::string sha256_fingerprint(X509* cert);

}  // namespace ward::tls
