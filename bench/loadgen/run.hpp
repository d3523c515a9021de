// SPDX-License-Identifier: Apache-2.0
#pragma once
// One load-generation run: the workers (one thread and event loop each), the barrier that
// starts the measured phase when every worker has finished its setup, the --count budget
// they share, and stopping on a deadline or SIGINT/SIGTERM. The only state shared between
// threads is here, and it is atomics or written before the threads that read it start.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "bench/loadgen/asio.hpp"
#include "bench/loadgen/client_context.hpp"
#include "bench/loadgen/options.hpp"
#include "bench/loadgen/process_stats.hpp"
#include "bench/loadgen/stats.hpp"

namespace ward::loadgen {

class Worker;

class Run {
public:
    using Clock = std::chrono::steady_clock;
    using Main = std::function<awaitable<void>(Worker&)>;
    // Called once, by the last worker to finish its setup, with the setup totals.
    using ReadyHook = std::function<void(const Run&, std::uint64_t established, std::uint64_t failed)>;

    // contexts: one per thread (nullptr entries for latency --plain).
    Run(const Options& options, tcp::endpoint target, std::vector<std::unique_ptr<ClientContext>> contexts);
    ~Run();

    // Runs `main` on every worker until all return; handles SIGINT/SIGTERM meanwhile.
    void execute(const Main& main, ReadyHook on_ready = {});

    const Options& options() const { return options_; }
    const tcp::endpoint& target() const { return target_; }
    const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
    Clock::time_point started() const { return started_; }

    // After execute(): everything merged, and the measured window.
    Stats merged_stats() const;
    double measured_seconds() const;
    double wall_seconds() const;
    CpuTimes cpu_total() const { return cpu_end_ - cpu_start_; }
    CpuTimes cpu_measured() const { return cpu_window_end_ - cpu_window_start_; }
    bool internal_error() const;

    // For workers.
    void arrive(Worker& worker);  // setup done
    bool claim();                 // --count: one more operation allowed?
    bool counting() const { return options_.count.has_value(); }
    void recording_started();     // a worker entered the measured window
    void window_ended();          // a worker left it (or finished without entering it)
    void request_stop();          // any thread; idempotent

private:
    void start_measuring();

    const Options& options_;
    tcp::endpoint target_;
    std::vector<std::unique_ptr<Worker>> workers_;
    Clock::time_point started_;
    Clock::time_point measure_start_;
    ReadyHook on_ready_;

    std::atomic<std::size_t> arrived_{0};
    std::atomic<std::uint64_t> setup_established_{0};
    std::atomic<std::uint64_t> setup_failed_{0};
    std::atomic<std::uint64_t> claimed_{0};
    std::atomic<bool> recording_started_{false};
    std::atomic<std::size_t> windows_ended_{0};
    std::atomic<bool> stop_requested_{false};

    CpuTimes cpu_start_, cpu_window_start_, cpu_window_end_, cpu_end_;
    Clock::time_point finished_;
};

}  // namespace ward::loadgen
