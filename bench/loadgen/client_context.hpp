// SPDX-License-Identifier: Apache-2.0
#pragma once
// The client side of TLS for one worker thread: an SSL_CTX made from the options (version,
// ciphers, groups, verification, client certificate, tickets) and, for `resume`, the newest
// session the server issued. One per thread, so nothing in it is shared between threads.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/openssl_ptr.hpp"
#include "bench/loadgen/options.hpp"

namespace ward::loadgen {

class ClientContext {
public:
    // nullptr on failure, with every problem appended to `errors` (bad cipher and group names
    // are each named, as OpenSSL would accept a list with only some of them known).
    static std::unique_ptr<ClientContext> create(const Options& options, std::vector<std::string>& errors);

    ClientContext(const ClientContext&) = delete;
    ClientContext& operator=(const ClientContext&) = delete;

    // A client SSL with SNI set and, in resume mode unless `full`, a session from the pool
    // attached.
    UniqueSsl new_ssl(bool full = false);

    // resume mode: the sessions the server issued and no connection has used up yet, newest
    // last. A TLS 1.3 ticket is used once (OpenSSL's client marks it not resumable when a
    // handshake with it completes, as RFC 8446 C.4 advises), so each connection takes its
    // own and the one the server sends after the handshake refills the pool; a TLS 1.2
    // session is shared until the server replaces it.
    std::size_t pool_size() const { return pool_.size(); }
    bool session_has_ticket() const { return !pool_.empty() && SSL_SESSION_has_ticket(pool_.back().get()); }
    std::uint64_t sessions_received() const { return sessions_received_; }
    // Connections that found no usable session (and so did a full handshake).
    std::uint64_t pool_empty() const { return pool_empty_; }

    // HelloRetryRequests the servers sent, all threads (seen on the wire: a ServerHello whose
    // random is RFC 8446's HelloRetryRequest value). Each costs the server a second flight.
    static std::uint64_t hello_retry_requests();

private:
    ClientContext() = default;
    static int on_new_session(SSL* ssl, SSL_SESSION* session);

    UniqueSslCtx ctx_;
    UniqueSession take_session();

    std::deque<UniqueSession> pool_;
    std::size_t pool_limit_ = 0;
    std::string sni_;
    bool resume_ = false;
    std::uint64_t sessions_received_ = 0;
    std::uint64_t pool_empty_ = 0;
};

}  // namespace ward::loadgen
