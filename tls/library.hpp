// SPDX-License-Identifier: Apache-2.0
#pragma once
// The TLS library this build of ward runs on, as `ward --version` shows it: its name, the
// version loaded at run time (and the one built against, when they differ) and its licence.
#include <string>

namespace ward::tls {

std::string tls_library();
// The library and the version built against, for messages: "OpenSSL 3.0.19", "wolfSSL 5.7.2".
std::string tls_library_name();

// Takes every per-connection slot (SSL ex_data index) ward uses, once, before any worker runs:
// wolfSSL hands out indices without a lock, and has few (MAX_EX_DATA). Throws when the library
// has too few. Called when the security mode is activated (at startup and on every reload;
// again is a no-op).
void reserve_connection_slots();

}  // namespace ward::tls
