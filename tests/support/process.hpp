// SPDX-License-Identifier: Apache-2.0
#pragma once
// Running a program for end-to-end tests: arguments, captured output, exit status, and a
// deadline after which the program is killed (no test waits forever).
#include <chrono>
#include <string>
#include <vector>

namespace ward::test {

struct ProcessResult {
    int exit_code = -1;  // -1 when killed by a signal or the deadline
    bool timed_out = false;
    std::string out;
    std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds deadline = std::chrono::seconds(60));

// The ward binary under test.
std::string ward_binary();

}  // namespace ward::test
