// SPDX-License-Identifier: Apache-2.0
#include "tls/library.hpp"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "tls/alpn.hpp"
#include "tls/peer_verifier_detail.hpp"

namespace ward::tls {

std::string tls_library() {
    std::string out = OpenSSL_version(OPENSSL_VERSION);
    if (out != OPENSSL_VERSION_TEXT) out += " (built against " + std::string(OPENSSL_VERSION_TEXT) + ")";
    return out + ", Apache-2.0";
}

std::string tls_library_name() { return "OpenSSL " OPENSSL_VERSION_STR; }

void reserve_connection_slots() {
    detail::reserve_slots();
    (void)alpn_slot();
}

}  // namespace ward::tls
