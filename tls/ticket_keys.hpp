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
//   - on OpenSSL, the cipher (AES-256-CBC) and MAC (HMAC) are fetched once, after the security
//     mode is active, so in FIPS mode they come from the FIPS provider; on wolfSSL, tickets are
//     sealed with AES-256-GCM under keys bound to the context's session id context
//     (ticket_keys_*.cpp).
// Keys never leave memory and are cleansed when replaced, except that a cluster of wards
// (proxy/cluster/tickets.hpp) shares one key set through etcd: while shared, the process seals
// with the set's current key, opens tickets of all three, and does not rotate by itself.
#include <array>
#include <chrono>

#include <openssl/ssl.h>

#include "tls/crypto.hpp"

namespace ward::tls {

// Installs the process's ticket keys on a server context.
void install_ticket_keys(SSL_CTX* ctx);

// One ticket key: its name (in every ticket it seals), the AES-256 key and the HMAC key.
struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    TicketKey() = default;
    TicketKey(const TicketKey&) = default;
    TicketKey& operator=(const TicketKey&) = default;
    ~TicketKey() { crypto::cleanse(this, sizeof *this); }
    bool operator==(const TicketKey&) const = default;
};
// A fresh random key; false when the random generator fails.
bool random_ticket_key(TicketKey& out);
// A cluster's key set: seal with `current`; open tickets sealed with any of the three (those of
// `previous` and `next` are answered with a fresh ticket). In force until replaced or until
// own_ticket_keys().
void share_ticket_keys(const TicketKey& previous, const TicketKey& current, const TicketKey& next);
// Back to this process's own rotating keys: a fresh key seals from now on; the shared current
// key still opens tickets for `grace` (at most one local rotation period), the others no more.
// With own keys already in force, a zero grace ends what is left of the last shared key's.
void own_ticket_keys(std::chrono::seconds grace);
bool ticket_keys_shared();

// For tests: the rotation period, and a clock offset to step over it without waiting.
void set_ticket_key_rotation(std::chrono::seconds rotation);
void advance_ticket_key_clock(std::chrono::seconds by);

}  // namespace ward::tls
