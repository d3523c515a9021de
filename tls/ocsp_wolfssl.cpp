// SPDX-License-Identifier: Apache-2.0
// OCSP on wolfSSL: not built yet. The response checks ward relies on (a delegated responder's
// signature and purpose, never the certificate asked about, the nonce, the times) have not been
// verified against wolfSSL's OCSP layer, so this flavour makes no queries: a context that asks
// for OCSP stapling or OCSP revocation checks is refused when it is built (ContextBuilder, by
// flavour::kOcsp), and a must-staple certificate is held to its demand (refused without
// stapling).
#include "tls/ocsp.hpp"

#include <openssl/x509v3.h>

namespace ward::tls {

bool must_staple(X509* cert) {
    // wolfSSL does not decode the TLS feature extension: its presence is taken as the strictest
    // demand (as the OpenSSL flavour takes an unreadable one).
    return X509_get_ext_by_NID(cert, NID_tlsfeature, -1) >= 0;
}

struct OcspQuery::State {};

OcspQuery::OcspQuery(OcspQuery&&) noexcept = default;
OcspQuery& OcspQuery::operator=(OcspQuery&&) noexcept = default;
OcspQuery::~OcspQuery() = default;

std::optional<OcspQuery> OcspQuery::make(X509*, X509*, bool) { return std::nullopt; }

OcspResult OcspQuery::check(std::string_view, std::int64_t, std::int64_t) const {
    OcspResult out;
    out.why = "OCSP is not available in the wolfSSL build of ward";
    return out;
}

}  // namespace ward::tls
