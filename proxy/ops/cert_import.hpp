// SPDX-License-Identifier: Apache-2.0
#pragma once
// `ward cert import`: puts a peer certificate into a trust store and selects its subject, as the
// admin guide's certificate import does: the certificate is copied into the store's folder, its
// subject CN is added to tls_peer_subjects and to every TLS context that uses the store, and the
// configuration is written back atomically. Idempotent; refuses what the security mode forbids.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/result.hpp"
#include "config/writer.hpp"

namespace ward::ops {

struct ImportRequest {
    std::filesystem::path config_file;
    std::string store;
    std::string description;  // empty: "imported from <file>"
    std::filesystem::path certificate;
    config::SaveOptions save;  // tests use it to crash between write and rename
    // Checks the configuration the import would write (its YAML) before anything is written;
    // false refuses the import. The admin API runs the full `ward check` here.
    std::function<bool(const std::string& text)> check;
};

struct ImportReport {
    std::vector<std::string> changes;  // what was done, one line each; empty: nothing changed
    std::string summary;               // one closing line
};

// On failure, the error says why; configuration problems are added to `diagnostics` too.
Result<ImportReport> import_certificate(const ImportRequest& request, config::Diagnostics& diagnostics);

}  // namespace ward::ops
