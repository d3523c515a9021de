// SPDX-License-Identifier: Apache-2.0
#pragma once
// What an admin plane may ask of the running proxy, and how one plugs in. The engine names no
// protocol: the admin API (HTTP, accounts, audit) is a front of its own (proxy/fronts/admin/),
// registered once at start like the listener fronts. The server binds admin.bind and runs the
// plane on its control thread, the one that builds snapshots and reloads: admin requests are
// rare, and on that thread they need no lock to read the state or to reload.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/result.hpp"
#include "proxy/engine/asio.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::proxy {

struct ReloadOutcome {
    bool applied = false;
    std::uint64_t generation = 0;  // in force afterwards
    std::vector<config::Diagnostic> diagnostics;
    std::string message;  // one line: what happened
    std::chrono::system_clock::time_point when;
};

struct ListenerStatus {
    std::string name;
    std::string protocol;
    std::string bind;  // the bound address ("" when not bound)
    std::string tls_context;
    std::int64_t active = 0;
    std::uint64_t accepted = 0;
    std::uint64_t handshakes = 0;  // completed since start
    std::uint64_t refusals = 0;    // refused in the handshake or by a connection limit
    std::uint64_t handshake_failures = 0;
};

class Control {
public:
    virtual ~Control() = default;
    // The snapshot new connections get.
    virtual std::shared_ptr<const Snapshot> current() const = 0;
    // Reloads the configuration file now (control thread only); with `reopen`, that listener
    // is re-opened (new acceptor, new contexts) while its established sessions finish.
    virtual ReloadOutcome reload(const std::string& reopen = {}) = 0;
    virtual const ReloadOutcome& last_reload() const = 0;
    virtual std::vector<ListenerStatus> listeners() const = 0;
    // Every listener of the current configuration bound.
    virtual bool ready() const = 0;
};

class AdminPlane {
public:
    virtual ~AdminPlane() = default;
    // One accepted connection, to its end (on the control thread).
    virtual awaitable<void> serve(tcp::socket socket, tcp::endpoint peer) = 0;
};

// Makes the plane when the configuration enables it (its accounts and audit log opened);
// the error says why it cannot start.
using AdminPlaneFactory = Result<std::unique_ptr<AdminPlane>> (*)(Control& control, asio::io_context& io);
void register_admin_plane(AdminPlaneFactory factory);
AdminPlaneFactory admin_plane_factory();

}  // namespace ward::proxy
