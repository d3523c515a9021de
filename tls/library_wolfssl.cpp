// SPDX-License-Identifier: Apache-2.0
#include "tls/library.hpp"

#include <wolfssl/version.h>

#include <stdexcept>

#include "tls/alpn.hpp"
#include "tls/peer_verifier_detail.hpp"
#include "tls/socket_io.hpp"

namespace ward::tls {

std::string tls_library() {
    std::string out = std::string("wolfSSL ") + wolfSSL_lib_version();
    if (out != "wolfSSL " LIBWOLFSSL_VERSION_STRING) out += " (built against " LIBWOLFSSL_VERSION_STRING ")";
    // wolfSSL is GPL-2.0-or-later, so a ward binary linked with it is distributed under the GPL.
    return out + ", GPL-2.0-or-later (this ward binary is distributed under the GPL)";
}

std::string tls_library_name() { return "wolfSSL " LIBWOLFSSL_VERSION_STRING; }

void reserve_connection_slots() {
    detail::reserve_slots();
    for (const int index : {alpn_slot(), ward_peer_certificate_index(), read_ahead_slot(), held_writes_slot()})
        if (index < 0 || index >= MAX_EX_DATA)
            throw std::runtime_error("wolfSSL has too few per-connection slots (MAX_EX_DATA " +
                                     std::to_string(MAX_EX_DATA) + "): rebuild it with deploy/wolfssl/build-wolfssl.sh");
}

}  // namespace ward::tls
