// SPDX-License-Identifier: Apache-2.0
#pragma once
// Authenticated connections to Exchange kept between requests, per worker thread: a connection
// authenticated with NTLM is worth keeping (NTLM authenticates the connection, not the request).
// Keyed by the listener state of one snapshot (its credentials, auth mode and TLS context), so a
// reload never hands a request a connection made under the settings it replaced. An idle
// connection leaves the pool when the server closes it or sends anything, or after `idle`.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "proxy/engine/connection.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::proxy::exchange_pool {

enum class Auth { none, ntlm, basic };

struct Upstream {
    Connection connection;
    config::Endpoint endpoint;
    Auth auth = Auth::none;
};

// A connection for `key` (the listener's front state), if one is idle on this thread and has
// nothing to read (a server that spoke or closed while idle gets its connection closed).
std::optional<Upstream> take(const void* key);
// Keeps `upstream` for `key` (the snapshot kept alive with it) unless `capacity` are idle already.
void put(const void* key, std::shared_ptr<const Snapshot> snapshot, Upstream upstream, std::size_t capacity,
         std::chrono::milliseconds idle);
// Idle connections on this thread (tests).
std::size_t idle_count();

// Exchange refused the credentials (Basic, after NTLMv2 where tried) for `key` (a listener of
// one configuration: its generation and name): ward answers itself instead of trying again (each
// try is a failed logon, and the service account would soon be locked out) until `until`.
// Process-wide: every worker stops.
void hold_refusals(const std::string& key, std::chrono::steady_clock::time_point until);
bool refusals_held(const std::string& key);

}  // namespace ward::proxy::exchange_pool
