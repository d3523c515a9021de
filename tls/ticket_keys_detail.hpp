// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the flavour's ticket callback (ticket_keys_openssl.cpp, ticket_keys_wolfssl.cpp) asks of
// the process's key set (ticket_keys.cpp).
#include "tls/ticket_keys.hpp"

namespace ward::tls::detail {

// The key that seals new tickets (made or rotated as due); false when none can be made.
bool sealing_ticket_key(TicketKey& out);
// The key a ticket names: 1 the current one, 2 one that still opens but whose tickets are to be
// renewed, 0 none (unknown or expired).
int opening_ticket_key(const unsigned char* name, TicketKey& out);

}  // namespace ward::tls::detail
