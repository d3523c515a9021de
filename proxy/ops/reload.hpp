// SPDX-License-Identifier: Apache-2.0
#pragma once
// Asking a running ward to reload: the process named in the configuration's pid_file gets
// SIGHUP. (The CLI checks the configuration fully first; the admin API will ask its own
// server directly.)
#include <filesystem>
#include <string>

#include "config/result.hpp"

namespace ward::ops {

struct SignalFailure {
    bool not_running = false;  // no readable pid, or no such process: ward is not running
    std::string message;
};

// The pid signalled, or why not.
Result<long> signal_reload(const std::filesystem::path& pid_file, SignalFailure* failure = nullptr);

}  // namespace ward::ops
