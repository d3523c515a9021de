// SPDX-License-Identifier: Apache-2.0
#pragma once
// An immutable configuration snapshot: the configuration and every TLS context built from it.
// Workers hold a shared_ptr to the one they use; a reload builds a new one off the workers and
// hands it over only when it validated. Running sessions keep the snapshot they started with.
#include <cstdint>
#include <filesystem>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "tls/tls_snapshot.hpp"

namespace ward::proxy {

class Front;

// A listener as the engine serves it, resolved once when the snapshot is built: a session
// never looks anything up by name, and never meets a listener without what it needs.
struct ListenerPlan {
    const config::Listener* listener = nullptr;
    const tls::Context* context = nullptr;  // every listener ward serves uses TLS on one side
    std::shared_ptr<const Front> front;     // what serves its connections
    std::shared_ptr<const void> state;      // what the front prepared for it (Front::prepare)
};

struct Snapshot {
    config::Config config;
    tls::TlsSnapshot tls;
    // Listeners ward makes from others' settings (a sip listener's return listener, named
    // "<name>/return"); each follows its own in `plans`.
    std::deque<config::Listener> derived;
    std::vector<ListenerPlan> plans;  // one per listener, configured or derived, in configuration order
    std::uint64_t generation = 0;

    const ListenerPlan* find_listener(const std::string& name) const {
        for (const auto& p : plans)
            if (p.listener->name == name) return &p;
        return nullptr;
    }
};

// Loads and validates `file` (activating the security mode on first use); nullptr with every
// problem in `diagnostics` otherwise. `previous` (on reload) forbids changes that need a restart.
std::shared_ptr<const Snapshot> build_snapshot(const std::filesystem::path& file, config::Diagnostics& diagnostics,
                                               const Snapshot* previous = nullptr);

// The same check for `text` as if it were the contents of `file` (the admin API checks a change
// this way before writing it). `mode_may_change`: a change of security mode is checked against
// the new mode instead of refused (it takes effect at restart).
std::shared_ptr<const Snapshot> build_snapshot_from_text(std::string_view text, const std::filesystem::path& file,
                                                         config::Diagnostics& diagnostics, const Snapshot& previous,
                                                         bool mode_may_change = false);

}  // namespace ward::proxy
