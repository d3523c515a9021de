// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace ward::proxy {

namespace {

spdlog::level::level_enum to_spdlog(config::LogLevel level) {
    switch (level) {
        case config::LogLevel::trace: return spdlog::level::trace;
        case config::LogLevel::debug: return spdlog::level::debug;
        case config::LogLevel::info: return spdlog::level::info;
        case config::LogLevel::warn: return spdlog::level::warn;
        case config::LogLevel::error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> make_logger(const char* name) {
    if (auto existing = spdlog::get(name)) return existing;
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    logger->flush_on(spdlog::level::info);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace

void init_logging(config::LogLevel level) {
    make_logger("proxy");
    make_logger("session");
    set_log_level(level);
}

void set_log_level(config::LogLevel level) {
    for (const char* name : {"proxy", "session"})
        if (auto l = spdlog::get(name)) l->set_level(to_spdlog(level));
}

spdlog::logger& proxy_log() {
    static auto logger = make_logger("proxy");
    return *logger;
}

spdlog::logger& session_log() {
    static auto logger = make_logger("session");
    return *logger;
}

std::string exception_text(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

bool RateLimiter::allow(std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now();
    if (now - window_ >= std::chrono::seconds(1)) {
        window_ = now;
        used_ = 0;
    }
    if (used_ >= per_second_) {
        ++dropped_;
        return false;
    }
    ++used_;
    suppressed = dropped_;
    dropped_ = 0;
    return true;
}

}  // namespace ward::proxy
