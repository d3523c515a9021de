// SPDX-License-Identifier: Apache-2.0
#pragma once
// The process facts a benchmark reports and needs: CPU time used, the open-file limit.
#include <cstdint>
#include <string>

namespace ward::loadgen {

struct CpuTimes {
    double user_s = 0;
    double system_s = 0;
    double total() const { return user_s + system_s; }
};

CpuTimes cpu_times();  // getrusage(RUSAGE_SELF): every thread of the process
CpuTimes operator-(const CpuTimes& a, const CpuTimes& b);

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit, or an
// error message.
std::uint64_t raise_open_file_limit(std::string& error);

}  // namespace ward::loadgen
