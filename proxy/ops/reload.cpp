// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/reload.hpp"

#include <csignal>
#include <cstring>
#include <fstream>

namespace ward::ops {

Result<long> signal_reload(const std::filesystem::path& pid_file, SignalFailure* failure) {
    auto fail = [&](bool not_running, std::string message) -> Result<long> {
        if (failure) *failure = {not_running, message};
        return Error{std::move(message)};
    };
    std::ifstream in(pid_file);
    long pid = 0;
    if (!(in >> pid) || pid <= 1)
        return fail(true, "cannot read a pid from " + pid_file.string() + " (is ward running?)");
    if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0)
        return fail(errno == ESRCH, "cannot signal process " + std::to_string(pid) + ": " + std::strerror(errno));
    return pid;
}

}  // namespace ward::ops
