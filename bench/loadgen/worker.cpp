// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/worker.hpp"

#include <cstdio>

namespace ward::loadgen {

namespace {

constexpr auto kSweepInterval = std::chrono::milliseconds(50);

Worker::Clock::duration from_seconds(double s) {
    return std::chrono::duration_cast<Worker::Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

Event::Event(asio::io_context& io) : timer_(io, asio::steady_timer::time_point::max()) {}

void Event::set() {
    set_ = true;
    timer_.cancel();
}

awaitable<void> Event::wait() {
    while (!set_) {
        co_await timer_.async_wait(use_tuple);
    }
}

TaskGroup::TaskGroup(Worker& worker) : worker_(worker), done_(worker.io()) {}

void TaskGroup::spawn(awaitable<void> task) {
    ++live_;
    asio::co_spawn(worker_.io(), std::move(task), [this](std::exception_ptr e) {
        worker_.note_escape(e, "connection");
        if (--live_ == 0) done_.set();
    });
}

awaitable<void> TaskGroup::join() {
    while (live_ > 0) {
        done_.reset();
        co_await done_.wait();
    }
}

Worker::Worker(Run& run, unsigned index, std::unique_ptr<ClientContext> tls)
    : run_(run),
      index_(index),
      io_(1),
      tls_(std::move(tls)),
      timeout_(from_seconds(run.options().timeout_s)),
      linger_(from_seconds(run.options().linger_s)),
      sweep_timer_(io_),
      warmup_timer_(io_),
      end_timer_(io_),
      go_(io_),
      stop_(io_) {}

Worker::~Worker() = default;

std::size_t Worker::share(std::size_t total) const {
    const std::size_t n = run_.workers().size();
    return total / n + (index_ < total % n ? 1 : 0);
}

void Worker::note_escape(std::exception_ptr e, const char* what) {
    if (!e) return;
    internal_error_ = true;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        std::fprintf(stderr, "ward-loadgen: worker %u: internal error in a %s coroutine: %s\n", index_, what, x.what());
    } catch (...) {
        std::fprintf(stderr, "ward-loadgen: worker %u: internal error in a %s coroutine\n", index_, what);
    }
}

void Worker::run(const Run::Main& main) {
    arm_sweep();
    asio::co_spawn(io_, main(*this), [this](std::exception_ptr e) {
        note_escape(e, "mode");
        finish();
    });
    io_.run();
}

void Worker::arm_sweep() {
    sweep_timer_.expires_after(kSweepInterval);
    sweep_timer_.async_wait([this](error_code ec) {
        if (ec || finished_) return;
        watchdog_.sweep(Clock::now());
        arm_sweep();
    });
}

awaitable<void> Worker::ready() {
    arrived_ = true;
    run_.arrive(*this);
    co_await go_.wait();
}

void Worker::post_go(Clock::time_point measure_start, std::optional<Clock::time_point> measure_end) {
    asio::post(io_, [this, measure_start, measure_end] { go(measure_start, measure_end); });
}

void Worker::post_stop() {
    asio::post(io_, [this] { stop_now(); });
}

void Worker::go(Clock::time_point measure_start, std::optional<Clock::time_point> measure_end) {
    if (!stopping_ && !finished_) {
        if (measure_start <= Clock::now()) {
            start_recording();
        } else {
            warmup_timer_.expires_at(measure_start);
            warmup_timer_.async_wait([this](error_code ec) {
                if (!ec) start_recording();
            });
        }
        if (measure_end) {
            end_timer_.expires_at(*measure_end);
            end_timer_.async_wait([this](error_code ec) {
                if (!ec) stop_now();
            });
        }
    }
    go_.set();
}

void Worker::start_recording() {
    if (stopping_ || finished_ || recording_) return;
    recording_ = true;
    run_.recording_started();
}

void Worker::stop_now() {
    if (stopping_) return;
    stopping_ = true;
    end_window(Clock::now());
    warmup_timer_.cancel();
    end_timer_.cancel();
    stop_.set();
    go_.set();
}

void Worker::end_window(Clock::time_point at) {
    if (recording_) {
        recording_ = false;
        window_end_ = at;
    }
    if (!window_reported_) {
        window_reported_ = true;
        run_.window_ended();
    }
}

Ticket Worker::begin_op() {
    if (stopping_) return {};
    if (!run_.counting() || !recording_) return {true, false};
    if (!run_.claim()) return {};
    return {true, true};
}

void Worker::finish() {
    // A mode that ended before the barrier (an internal error) must not keep the other
    // workers waiting at it.
    if (!arrived_) {
        arrived_ = true;
        run_.arrive(*this);
    }
    // With --count the window closes at the last counted completion, not when the
    // stragglers' closes are done.
    end_window(run_.counting() && last_completion_ ? *last_completion_ : Clock::now());
    stopping_ = true;
    finished_ = true;
    sweep_timer_.cancel();
    warmup_timer_.cancel();
    end_timer_.cancel();
}

}  // namespace ward::loadgen
