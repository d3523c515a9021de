// SPDX-License-Identifier: Apache-2.0
#pragma once
// Does a certificate name an XMPP server domain? RFC 6120 section 13.7.1.2, RFC 6125 section 6
// and RFC 7590 section 3.1, as ward applies them to s2s peers in both directions:
//   - DNS-ID (SAN dNSName): equal ignoring ASCII case; a wildcard only as the whole left-most
//     label, standing for exactly one label, and only over at least two more labels;
//   - SRV-ID (SAN otherName id-on-dnsSRV, 1.3.6.1.5.5.7.8.7): "_xmpp-server." + the domain;
//   - XmppAddr (SAN otherName id-on-xmppAddr, 1.3.6.1.5.5.7.8.5): the bare domain;
//   - the subject CN, only when the certificate has none of the three above (nor a URI-ID),
//     and only when there is exactly one CN.
// OpenSSL's X509_check_host covers DNS-ID alone; the otherName forms are read here. A name
// holding a NUL byte never matches.
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

namespace ward::xmpp {

struct PresentedIdentifiers {
    std::vector<std::string> dns_ids;
    std::vector<std::string> srv_ids;
    std::vector<std::string> xmpp_addrs;
    std::vector<std::string> uri_ids;
    std::vector<std::string> common_names;  // used only when none of the above is present
    // The subjectAltName extension is there but could not be read (duplicated, malformed, a name
    // in a form ward does not read), or holds an XmppAddr / SRV-ID of the wrong ASN.1 type, or a
    // subject CN cannot be read: nothing matches, not even the CN.
    bool unreadable = false;
};

PresentedIdentifiers presented_identifiers(X509* cert);

// "" when `cert` names `domain` as an XMPP server, otherwise why not (for logs; no key data).
// `domain` must be a host name (letters, digits, hyphens, dots): a peer's "*.example.com" or
// "user@example.com" never matches a wildcard.
std::string check_server_identity(X509* cert, std::string_view domain);

// The DNS-ID rule alone, for tests: does `pattern` (a dNSName) match `domain`?
bool dns_id_matches(std::string_view pattern, std::string_view domain);

}  // namespace ward::xmpp
