// SPDX-License-Identifier: Apache-2.0
#pragma once
// One thread of the load generator: its own io_context (single-threaded, so no locks), its
// own TLS context, streams, watchdog and counters. Modes are coroutines run on a worker; the
// worker gives them the phase (warming up, measuring, stopping) and the --count budget.
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>

#include "bench/loadgen/asio.hpp"
#include "bench/loadgen/client_context.hpp"
#include "bench/loadgen/run.hpp"
#include "bench/loadgen/stats.hpp"
#include "bench/loadgen/stream.hpp"

namespace ward::loadgen {

// A one-shot signal coroutines can wait on (a timer that never expires, cancelled by set()).
class Event {
public:
    explicit Event(asio::io_context& io);
    void set();
    void reset() { set_ = false; }
    bool is_set() const { return set_; }
    awaitable<void> wait();

private:
    asio::steady_timer timer_;
    bool set_ = false;
};

class Worker;

// Coroutines spawned on a worker and joined together; what escapes one is logged and
// counted as an internal error (never `detached`).
class TaskGroup {
public:
    explicit TaskGroup(Worker& worker);
    void spawn(awaitable<void> task);
    awaitable<void> join();

private:
    Worker& worker_;
    std::size_t live_ = 0;
    Event done_;
};

// Permission to start one operation; see Worker::begin_op.
struct Ticket {
    bool go = false;
    bool claimed = false;  // --count: this operation is one of the N
    explicit operator bool() const { return go; }
};

class Worker {
public:
    using Clock = std::chrono::steady_clock;

    Worker(Run& run, unsigned index, std::unique_ptr<ClientContext> tls);
    ~Worker();

    unsigned index() const { return index_; }
    const Options& options() const { return run_.options(); }
    const tcp::endpoint& target() const { return run_.target(); }
    asio::io_context& io() { return io_; }
    Watchdog& watchdog() { return watchdog_; }
    ClientContext* tls() { return tls_.get(); }
    const ClientContext* tls() const { return tls_.get(); }
    Stats& stats() { return stats_; }
    const Stats& stats() const { return stats_; }

    // This worker's part of `total` connections.
    std::size_t share(std::size_t total) const;
    Clock::duration timeout() const { return timeout_; }
    Clock::duration linger() const { return linger_; }

    // Setup is done: waits until every worker's is, then the measured phase begins (after
    // --warmup).
    awaitable<void> ready();
    bool recording() const { return recording_; }
    bool stopping() const { return stopping_; }
    awaitable<void> wait_stop() { return stop_.wait(); }

    // May another operation start? Not once stopping, nor past --count. An operation started
    // while warming up runs but is not counted.
    Ticket begin_op();
    // Should an operation's result be counted now?
    bool counts(const Ticket& t) const { return run_.counting() ? t.claimed : recording_; }
    // A counted operation finished at `at` (the last such time ends a --count window).
    void completed(Clock::time_point at) {
        if (!last_completion_ || at > *last_completion_) last_completion_ = at;
    }
    // Records a failure if it counts.
    void fail(const Ticket& t, std::string_view reason) {
        if (counts(t)) stats_.add_failure(reason);
    }

    // Runs `main` (blocking) until it returns.
    void run(const Run::Main& main);
    // Called from other threads (posted to this worker).
    void post_go(Clock::time_point measure_start, std::optional<Clock::time_point> measure_end);
    void post_stop();

    std::optional<Clock::time_point> window_end() const { return window_end_; }
    bool internal_error() const { return internal_error_; }
    void note_escape(std::exception_ptr e, const char* what);

private:
    void go(Clock::time_point measure_start, std::optional<Clock::time_point> measure_end);
    void start_recording();
    void stop_now();
    void end_window(Clock::time_point at);
    void finish();
    void arm_sweep();

    Run& run_;
    unsigned index_;
    asio::io_context io_;  // first: everything below uses it
    std::unique_ptr<ClientContext> tls_;
    Watchdog watchdog_;
    Stats stats_;
    Clock::duration timeout_;
    Clock::duration linger_;
    asio::steady_timer sweep_timer_;
    asio::steady_timer warmup_timer_;
    asio::steady_timer end_timer_;
    Event go_;
    Event stop_;
    bool recording_ = false;
    bool stopping_ = false;
    bool finished_ = false;
    bool arrived_ = false;  // at the setup barrier
    bool window_reported_ = false;
    bool internal_error_ = false;
    std::optional<Clock::time_point> last_completion_;
    std::optional<Clock::time_point> window_end_;
};

}  // namespace ward::loadgen
