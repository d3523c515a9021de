// SPDX-License-Identifier: Apache-2.0
#pragma once
// Loggers (one per module) and a rate limiter for lines a peer can provoke.
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "config/config.hpp"

namespace ward::proxy {

// Sets up the process's loggers (stderr, one line per event) at `level`.
void init_logging(config::LogLevel level);
void set_log_level(config::LogLevel level);

spdlog::logger& proxy_log();    // engine, listeners, reload
spdlog::logger& session_log();  // one line per session

// What an exception that escaped a coroutine says, for its error line (what() of a
// std::exception; "an exception of unknown type" otherwise).
std::string exception_text(std::exception_ptr e);

// Allows `per_second` lines, then counts what it suppressed (per worker, no locks).
class RateLimiter {
public:
    explicit RateLimiter(int per_second = 20) : per_second_(per_second) {}
    // True when a line may be written; `suppressed` then holds how many were dropped before it.
    bool allow(std::uint64_t& suppressed);

private:
    int per_second_;
    std::chrono::steady_clock::time_point window_{};
    int used_ = 0;
    std::uint64_t dropped_ = 0;
};

}  // namespace ward::proxy
