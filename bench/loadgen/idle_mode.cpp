// SPDX-License-Identifier: Apache-2.0
// idle: N TLS connections, established and then held without traffic until stopped.
#include <array>
#include <cstdio>

#include "bench/loadgen/establish.hpp"
#include "bench/loadgen/json_writer.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

namespace {

// Holds one connection: a pending read with no timeout, so a server that closes idle
// connections is noticed (and counted), until interrupted by the stop.
awaitable<void> hold(Worker& w, std::unique_ptr<Stream> s) {
    thread_local std::array<unsigned char, 16 * 1024> sink;
    Stats& st = w.stats();
    s->set_timeout(Worker::Clock::duration::zero());
    for (;;) {
        std::size_t got = 0;
        const Outcome o = co_await s->read_some(sink.data(), sink.size(), got);
        if (o == Outcome::ok) continue;  // e.g. a banner; TLS 1.3 tickets are no data
        if (o == Outcome::interrupted) break;
        ++st.closed_by_peer;
        st.add_failure(o == Outcome::closed ? "hold: connection closed by peer" : "hold: " + s->failure());
        co_return;
    }
    st.closes.add(co_await s->close_gracefully(w.linger()));
}

awaitable<void> opener(Worker& w, std::size_t& next, std::size_t total, TaskGroup& holders) {
    while (next < total && !w.stopping()) {
        ++next;
        if (auto s = co_await establish(w)) holders.spawn(hold(w, std::move(s)));
    }
}

}  // namespace

awaitable<void> idle_main(Worker& w) {
    const Options& o = w.options();
    const std::size_t total = w.share(o.connections);
    const std::size_t parallel = std::min(total, std::max<std::size_t>(1, w.share(o.concurrency)));
    TaskGroup holders(w);
    {
        std::size_t next = 0;
        TaskGroup openers(w);
        for (std::size_t i = 0; i < parallel; ++i) openers.spawn(opener(w, next, total, holders));
        co_await openers.join();
    }
    co_await w.ready();  // every worker's connections are up: the harness is told
    co_await w.wait_stop();
    w.watchdog().interrupt_all();
    co_await holders.join();
}

void print_idle_established(const Run& run, std::uint64_t established, std::uint64_t failed) {
    JsonWriter j;
    j.open();
    j.text("mode", "idle");
    j.text("event", "established");
    j.number("established", established);
    j.number("failed", failed);
    j.number("requested", run.options().connections);
    j.text("target", run.options().target.text());
    j.real("elapsed_s", std::chrono::duration<double>(Run::Clock::now() - run.started()).count());
    j.close();
    std::fprintf(stdout, "%s\n", j.str().c_str());
    std::fflush(stdout);
}

}  // namespace ward::loadgen
