// SPDX-License-Identifier: Apache-2.0
#pragma once
// ALPN (RFC 7301) for listeners that name their protocol, such as XMPP Direct TLS (XEP-0368:
// "xmpp-client", "xmpp-server"). Every server context carries the selector; a connection that
// expects no protocol acknowledges none (the client's offer is ignored), one that expects a
// protocol selects it when offered, accepts a client that offers no ALPN at all, and refuses a
// client that offers only others with the no_application_protocol alert.
#include <string_view>

#include <openssl/ssl.h>

namespace ward::tls {

void install_alpn_selector(SSL_CTX* ctx);

// `protocol` must outlive the SSL (a string literal).
void expect_alpn(SSL* ssl, const char* protocol);

// Client side: offer exactly `protocol`. False on failure.
bool offer_alpn(SSL* ssl, std::string_view protocol);

// The protocol the handshake selected ("" when none).
std::string_view selected_alpn(const SSL* ssl);

// The per-connection slot of the expected protocol (for tls::reserve_connection_slots()).
int alpn_slot();

}  // namespace ward::tls
