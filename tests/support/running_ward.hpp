// SPDX-License-Identifier: Apache-2.0
#pragma once
// ward's engine in process: a configuration file loaded as `ward run` loads it, served by a
// proxy::Server whose control loop runs on a thread of the test. Stopped and joined on
// destruction.
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "proxy/engine/server.hpp"

namespace ward::test {

class RunningWard {
public:
    // Registers every front first, unless a test registered its own (`register_fronts` false).
    explicit RunningWard(const std::filesystem::path& config_file, bool register_fronts = true);
    ~RunningWard();
    RunningWard(const RunningWard&) = delete;
    RunningWard& operator=(const RunningWard&) = delete;

    std::uint16_t port(const std::string& listener) const;
    std::uint16_t metrics_port() const;
    proxy::Server& server() { return *server_; }
    // Reloads the configuration file; true when the new configuration took effect on every
    // worker, false when it was refused. Waits for the outcome (bounded).
    bool reload(std::chrono::milliseconds deadline = std::chrono::seconds(10));

private:
    std::unique_ptr<proxy::Server> server_;
    std::thread thread_;
    std::mutex mutex_;
    std::promise<bool>* pending_ = nullptr;
};

// GET /metrics from a running ward ("" on failure).
std::string fetch_metrics(std::uint16_t port);

}  // namespace ward::test
