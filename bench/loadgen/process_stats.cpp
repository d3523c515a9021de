// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/process_stats.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <system_error>

namespace ward::loadgen {

namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

CpuTimes cpu_times() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {seconds(ru.ru_utime), seconds(ru.ru_stime)};
}

CpuTimes operator-(const CpuTimes& a, const CpuTimes& b) {
    return {a.user_s - b.user_s, a.system_s - b.system_s};
}

std::uint64_t raise_open_file_limit(std::string& error) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        error = "getrlimit(RLIMIT_NOFILE): " + std::generic_category().message(errno);
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            error = "setrlimit(RLIMIT_NOFILE): " + std::generic_category().message(errno);
            return 0;
        }
    }
    return rl.rlim_cur;
}

}  // namespace ward::loadgen
