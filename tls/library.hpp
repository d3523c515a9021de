// SPDX-License-Identifier: Apache-2.0
#pragma once
// The TLS library this build of ward runs on, as `ward --version` shows it: its name, the
// version loaded at run time (and the one built against, when they differ) and its licence.
#include <string>

namespace ward::tls {

std::string tls_library();
// The library and the version built against, for messages: "OpenSSL 3.0.19", "wolfSSL 5.7.2".
std::string tls_library_name();

}  // namespace ward::tls
