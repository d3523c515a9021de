// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/snapshot.hpp"

#include "config/loader.hpp"
#include "proxy/engine/front.hpp"

namespace ward::proxy {

namespace {

std::shared_ptr<const Snapshot> build(config::LoadResult loaded, config::Diagnostics& diagnostics,
                                      const Snapshot* previous, bool mode_may_change) {
    diagnostics = loaded.diagnostics;
    if (!loaded.partial) return nullptr;
    const auto& c = *loaded.partial;
    if (previous) {
        // The security mode is process-wide (the FIPS provider cannot be unloaded).
        const auto& was = previous->config.security;
        if (!mode_may_change && (c.security.mode != was.mode || c.security.fips_provider != was.fips_provider ||
                                 c.security.fips_module_dir != was.fips_module_dir)) {
            diagnostics.error(c.mark("security.mode"), "security",
                              "the security mode and FIPS provider cannot change on reload (now " +
                                  std::string(config::to_string(was.mode)) + "); restart ward to change them");
        }
        if (c.workers != previous->config.workers)
            diagnostics.warning(c.mark("workers"), "workers", "the number of workers changes only on restart");
        if (c.user != previous->config.user)
            diagnostics.warning(c.mark("user"), "user", "the user changes only on restart");
    } else if (!tls::activate_security_mode(c, diagnostics)) {
        return nullptr;
    }
    // What this build serves: a listener kind needs a registered front.
    for (std::size_t i = 0; i < c.listeners.size(); ++i) {
        if (!front_for(c.listeners[i].protocol)) {
            const auto path = "listeners[" + std::to_string(i) + "].protocol";
            diagnostics.error(c.mark(path), path,
                              "'" + std::string(config::to_string(c.listeners[i].protocol)) +
                                  "' listeners are not served by this build yet");
        }
    }
    auto tls_snapshot = tls::build_tls_snapshot(c, diagnostics);
    if (!tls_snapshot || !loaded.config || diagnostics.has_errors()) return nullptr;
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->config = std::move(*loaded.config);
    snapshot->tls = std::move(*tls_snapshot);
    snapshot->generation = previous ? previous->generation + 1 : 1;
    // Each listener's TLS context and front, resolved here and only here. The loader's checks make a
    // missing one impossible; should one slip through, the configuration is refused, never served.
    const auto& listeners = snapshot->config.listeners;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        const auto* context = snapshot->tls.find(listeners[i].tls_context);
        if (!context) {
            const auto path = "listeners[" + std::to_string(i) + "].tls_context";
            diagnostics.error(c.mark(path), path, "listener '" + listeners[i].name + "' has no usable TLS context");
            continue;
        }
        auto front = front_for(listeners[i].protocol);
        auto state = front ? front->prepare(snapshot->config, listeners[i], "listeners[" + std::to_string(i) + "]", diagnostics)
                           : nullptr;
        snapshot->plans.push_back({&listeners[i], context, std::move(front), std::move(state)});
        // A sip listener's return listener: plaintext from the backend on loopback, its limits.
        if (listeners[i].sip && listeners[i].sip->return_bind) {
            auto& r = snapshot->derived.emplace_back();
            r.name = listeners[i].name + "/return";
            r.protocol = config::Protocol::sip_return;
            r.bind = *listeners[i].sip->return_bind;
            r.tls_context = listeners[i].tls_context;
            r.limits = listeners[i].limits;
            r.sip = listeners[i].sip;
            auto return_front = front_for(config::Protocol::sip_return);
            if (!return_front) {
                const auto path = "listeners[" + std::to_string(i) + "].sip.return_bind";
                diagnostics.error(c.mark(path), path, "this build does not route SIP back to peers");
                continue;
            }
            snapshot->plans.push_back({&r, context, std::move(return_front), nullptr});
        }
    }
    if (diagnostics.has_errors()) return nullptr;
    return snapshot;
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(const std::filesystem::path& file, config::Diagnostics& diagnostics,
                                               const Snapshot* previous) {
    return build(config::load_file(file), diagnostics, previous, false);
}

std::shared_ptr<const Snapshot> build_snapshot_from_text(std::string_view text, const std::filesystem::path& file,
                                                         config::Diagnostics& diagnostics, const Snapshot& previous,
                                                         bool mode_may_change) {
    return build(config::load_string(text, file), diagnostics, &previous, mode_may_change);
}

}  // namespace ward::proxy
