// SPDX-License-Identifier: Apache-2.0
#pragma once
// Session ticket keys (RFC 5077, RFC 8446 section 4.6.1) for every server context of the
// process. OpenSSL's built-in ticket sealing makes a fresh AES-256-CBC and HMAC-SHA256 key per
// SSL_CTX, so every reload (a new SSL_CTX) would make every ticket issued before it useless,
// and it fetches the cipher by name for each ticket it seals or opens. Here:
//   - one key set for the process, kept across reloads: clients resume after a reload;
//   - the key rotates every `rotation` (default 12 h); tickets sealed with the previous key
//     are still accepted for one more period, and answered with a fresh ticket;
//   - a TLS 1.3 resumption always gets a fresh ticket (clients use each one once);
//   - the cipher (AES-256-CBC) and MAC (HMAC) are fetched once, after the security mode is
//     active, so in FIPS mode they come from the FIPS provider.
// Keys never leave memory and are cleansed when replaced.
#include <chrono>

#include <openssl/ssl.h>

namespace ward::tls {

// Installs the process's ticket keys on a server context.
void install_ticket_keys(SSL_CTX* ctx);

// For tests: the rotation period, and a clock offset to step over it without waiting.
void set_ticket_key_rotation(std::chrono::seconds rotation);
void advance_ticket_key_clock(std::chrono::seconds by);

}  // namespace ward::tls
