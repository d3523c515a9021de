// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/run.hpp"

#include <csignal>
#include <cstdio>
#include <thread>

#include <boost/asio/signal_set.hpp>

#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

Run::Run(const Options& options, tcp::endpoint target, std::vector<std::unique_ptr<ClientContext>> contexts)
    : options_(options), target_(std::move(target)), started_(Clock::now()) {
    for (unsigned i = 0; i < contexts.size(); ++i)
        workers_.push_back(std::make_unique<Worker>(*this, i, std::move(contexts[i])));
}

Run::~Run() = default;

void Run::execute(const Main& main, ReadyHook on_ready) {
    on_ready_ = std::move(on_ready);
    cpu_start_ = cpu_times();
    cpu_window_start_ = cpu_window_end_ = cpu_start_;

    // The main thread only waits for signals; the workers do the work.
    asio::io_context control(1);
    asio::signal_set signals(control, SIGINT, SIGTERM);
    int signals_seen = 0;
    std::function<void(error_code, int)> on_signal = [&](error_code ec, int) {
        if (ec) return;
        if (++signals_seen > 1) {
            std::fprintf(stderr, "ward-loadgen: second signal, exiting without a report\n");
            std::_Exit(130);
        }
        request_stop();
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    std::atomic<std::size_t> finished{0};
    std::vector<std::thread> threads;
    for (auto& w : workers_) {
        threads.emplace_back([&, worker = w.get()] {
            worker->run(main);
            if (finished.fetch_add(1) + 1 == workers_.size())
                asio::post(control, [&] { signals.cancel(); });
        });
    }
    control.run();
    for (auto& t : threads) t.join();
    finished_ = Clock::now();
    cpu_end_ = cpu_times();
}

void Run::arrive(Worker& worker) {
    setup_established_ += worker.stats().established;
    setup_failed_ += worker.stats().failed;
    if (arrived_.fetch_add(1) + 1 == workers_.size()) start_measuring();
}

void Run::start_measuring() {
    if (on_ready_) on_ready_(*this, setup_established_.load(), setup_failed_.load());
    const auto now = Clock::now();
    measure_start_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.warmup_s));
    std::optional<Clock::time_point> end;
    if (options_.duration_s)
        end = measure_start_ +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*options_.duration_s));
    for (auto& w : workers_) w->post_go(measure_start_, end);
}

bool Run::claim() { return claimed_.fetch_add(1, std::memory_order_relaxed) < *options_.count; }

void Run::recording_started() {
    if (!recording_started_.exchange(true)) cpu_window_start_ = cpu_times();
}

void Run::window_ended() {
    if (windows_ended_.fetch_add(1) + 1 == workers_.size()) cpu_window_end_ = cpu_times();
}

void Run::request_stop() {
    if (stop_requested_.exchange(true)) return;
    for (auto& w : workers_) w->post_stop();
}

Stats Run::merged_stats() const {
    Stats all;
    for (const auto& w : workers_) all.merge(w->stats());
    return all;
}

double Run::measured_seconds() const {
    std::optional<Clock::time_point> end;
    for (const auto& w : workers_)
        if (const auto e = w->window_end(); e && (!end || *e > *end)) end = e;
    if (!end || *end <= measure_start_) return 0;
    return std::chrono::duration<double>(*end - measure_start_).count();
}

double Run::wall_seconds() const { return std::chrono::duration<double>(finished_ - started_).count(); }

bool Run::internal_error() const {
    for (const auto& w : workers_)
        if (w->internal_error()) return true;
    return false;
}

}  // namespace ward::loadgen
