// SPDX-License-Identifier: Apache-2.0
#pragma once
// A front: what one kind of listener does with a connection between accept and relay (the
// protocol before TLS, the handshake, the protocol after it, the backend). The engine runs a
// session's front and knows no protocol; each front is a library of its own under
// proxy/fronts/, registered once at start (proxy/fronts/fronts.cpp) for the listener
// protocols it serves. The snapshot resolves each listener's front when it is built.
#include <memory>
#include <string>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "proxy/engine/asio.hpp"

namespace ward::proxy {

class Session;

class Front {
public:
    virtual ~Front() = default;
    // The coroutine that runs the connection to its end. The session writes the summary line
    // afterwards (once: a front that already finished it is not logged twice). Fronts return
    // the awaitable of a free coroutine function, so the front object holds no frame state.
    virtual awaitable<void> serve(Session& session) const = 0;
    // What a front prepares for one listener when a snapshot is built (files it reads, say),
    // handed to its sessions as Session::front_state(); problems go into `diagnostics` (at
    // `path`, the listener's) and refuse the snapshot, as a bad certificate does. Default: none.
    virtual std::shared_ptr<const void> prepare(const config::Config& config, const config::Listener& listener,
                                                const std::string& path, config::Diagnostics& diagnostics) const;
};

using PrepareFunction = std::shared_ptr<const void> (*)(const config::Config&, const config::Listener&,
                                                         const std::string& path, config::Diagnostics&);

// A front that is one coroutine function (what every front here is), and optionally a
// function that prepares its listeners' state.
std::shared_ptr<const Front> make_front(awaitable<void> (*serve)(Session&), PrepareFunction prepare = nullptr);

// Registration, before any snapshot is built (not thread-safe; the program does it first).
void register_front(config::Protocol protocol, std::shared_ptr<const Front> front);
// The front serving `protocol`, or nullptr when this build has none. Snapshots hold it: a
// front registered again later does not pull it from under a running configuration.
std::shared_ptr<const Front> front_for(config::Protocol protocol);

}  // namespace ward::proxy
