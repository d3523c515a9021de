// SPDX-License-Identifier: Apache-2.0
#pragma once
// Writing the configuration back: used by certificate import and, later, the admin API.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/result.hpp"

namespace ward::config {

// The model as YAML that load_string reads back into an equal model.
std::string to_yaml(const Config& config);

struct SaveOptions {
    // Called after the new file is written and synced, before it replaces the old one
    // (tests use it to crash there).
    std::function<void()> before_rename;
    // The file's permissions (and its .prev's); unset: kept from the current file, 0644 for a new one.
    std::optional<unsigned> mode;
};

// Replaces `file` atomically: the new text goes to a temporary file in the same folder, is
// fsynced, the current file is kept as `<file>.prev`, the temporary file is renamed over
// `file`, and the folder is fsynced. A crash at any point leaves either the old or the new
// file in place, never a mix.
Status save_text_atomically(const std::filesystem::path& file, const std::string& text,
                            const SaveOptions& options = {});

// to_yaml + save_text_atomically.
Status save(const Config& config, const std::filesystem::path& file, const SaveOptions& options = {});

}  // namespace ward::config
