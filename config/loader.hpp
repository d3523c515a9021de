// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reads a YAML configuration into the typed model. Every problem is reported at once with its
// file:line:col; a configuration is returned only when there is none.
#include <filesystem>
#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace ward::config {

struct LoadResult {
    std::optional<Config> config;  // set when diagnostics has no error
    // What could be read, errors or not (unset only when the YAML itself did not parse), so
    // that later checks (certificates, ciphers) can report their problems in the same run.
    std::optional<Config> partial;
    Diagnostics diagnostics;
};

// Loads `file`. Relative paths in it resolve against the file's folder.
LoadResult load_file(const std::filesystem::path& file);

// Loads YAML text as if it were the contents of `file` (which need not exist).
LoadResult load_string(std::string_view text, const std::filesystem::path& file);

}  // namespace ward::config
