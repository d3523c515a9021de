// SPDX-License-Identifier: Apache-2.0
#include "tls/library.hpp"

#include <wolfssl/version.h>

namespace ward::tls {

std::string tls_library() {
    std::string out = std::string("wolfSSL ") + wolfSSL_lib_version();
    if (out != "wolfSSL " LIBWOLFSSL_VERSION_STRING) out += " (built against " LIBWOLFSSL_VERSION_STRING ")";
    // wolfSSL is GPL-2.0-or-later, so a ward binary linked with it is distributed under the GPL.
    return out + ", GPL-2.0-or-later (this ward binary is distributed under the GPL)";
}

std::string tls_library_name() { return "wolfSSL " LIBWOLFSSL_VERSION_STRING; }

}  // namespace ward::tls
