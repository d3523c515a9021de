// SPDX-License-Identifier: Apache-2.0
#pragma once
// Peers' revocation by OCSP (tls_contexts.NAME.revocation.ocsp), checked once the handshake is
// done and before a byte of the connection is read or forwarded, on every connection: resumed
// sessions too, so a certificate revoked after its ticket was issued is refused at its next
// resumption. (OpenSSL 3.0 can suspend certificate verification only on the client side,
// SSL_set_retry_verify, so a server cannot wait for a responder inside the handshake without
// blocking its worker.) The wait counts inside the handshake deadline.
#include <chrono>
#include <string>

#include <openssl/ssl.h>

#include "proxy/engine/asio.hpp"

namespace ward::proxy {

struct RevocationVerdict {
    bool allowed = true;
    std::string why;  // when refused, or when let in without an answer (prefer)
};

// Whether `ssl`'s context looks peers up by OCSP at all (the handshake path asks first, so that
// contexts without it pay no coroutine frame).
bool revocation_applies(const SSL* ssl);

// The check for the peer of a finished handshake on `ssl`, fetching on `ex` when nothing is
// cached, until `until` at the latest.
awaitable<RevocationVerdict> check_revocation(SSL* ssl, asio::any_io_executor ex,
                                              std::chrono::steady_clock::time_point until);

}  // namespace ward::proxy
