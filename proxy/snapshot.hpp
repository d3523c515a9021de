#pragma once
// An immutable configuration snapshot: the configuration and every TLS context built from it.
// Workers hold a shared_ptr to the one they use; a reload builds a new one off the workers and
// hands it over only when it validated. Running sessions keep the snapshot they started with.
#include <cstdint>
#include <filesystem>
#include <memory>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "tls/tls_snapshot.hpp"

namespace ward::proxy {

struct Snapshot {
    config::Config config;
    tls::TlsSnapshot tls;
    std::uint64_t generation = 0;

    const config::Listener* find_listener(const std::string& name) const {
        for (const auto& l : config.listeners)
            if (l.name == name) return &l;
        return nullptr;
    }
};

// Loads and validates `file` (activating the security mode on first use); nullptr with every
// problem in `diagnostics` otherwise. `previous` (on reload) forbids changes that need a restart.
std::shared_ptr<const Snapshot> build_snapshot(const std::filesystem::path& file, config::Diagnostics& diagnostics,
                                               const Snapshot* previous = nullptr);

}  // namespace ward::proxy
