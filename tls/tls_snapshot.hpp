// SPDX-License-Identifier: Apache-2.0
#pragma once
// The TLS half of a configuration snapshot: the process-wide security mode, and every TLS
// context built once, shared by all workers and connections until the next reload.
#include <cstdint>
#include <map>
#include <vector>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "tls/context_builder.hpp"

namespace ward::tls {

// Puts the process in the configured security mode: in fips, enhanced and common-criteria
// modes, loads the OpenSSL FIPS provider and makes it the default (or, with
// `fips_provider: policy-only`, warns that only the algorithm rules are enforced). Reports into
// `diagnostics`; returns false when ward must not start. Process-wide and one-way: the FIPS
// provider cannot be unloaded, so a mode change needs a restart.
bool activate_security_mode(const config::Config& config, config::Diagnostics& diagnostics);

// When a certificate ward holds stops being valid: every certificate a context presents (its
// leaf) and every certificate in a trust store a context uses.
struct CertificateExpiry {
    std::string certificate;  // "server" (certificates.<name>), or "trust:<store>/<file>"
    std::string subject;      // one line, as in the logs
    std::int64_t not_after = 0;  // Unix seconds
    bool presented = false;
};

struct TlsSnapshot {
    std::map<std::string, std::shared_ptr<const Context>> contexts;
    std::vector<CertificateExpiry> expiries;  // sorted by certificate
    const Context* find(const std::string& name) const {
        auto it = contexts.find(name);
        return it == contexts.end() ? nullptr : it->second.get();
    }
};

// Builds every context and checks what listeners ask of them (in common-criteria mode, a
// certificate presented as server needs serverAuth, as client clientAuth). Nothing when any
// error was reported.
std::optional<TlsSnapshot> build_tls_snapshot(const config::Config& config, config::Diagnostics& diagnostics);

}  // namespace ward::tls
