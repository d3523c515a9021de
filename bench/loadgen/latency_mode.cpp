// SPDX-License-Identifier: Apache-2.0
// latency: request/echo round trips over established connections, one at a time each.
#include "bench/loadgen/establish.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

namespace {

awaitable<void> round_trips(Worker& w, std::unique_ptr<Stream> s, unsigned seed) {
    Stats& st = w.stats();
    const auto request = make_payload(w.options().request, seed);
    std::vector<unsigned char> reply(request.size());
    while (const Ticket t = w.begin_op()) {
        const auto t0 = Worker::Clock::now();
        const Outcome echoed = co_await s->exchange(request.data(), reply.data(), request.size());
        if (echoed != Outcome::ok) {
            w.fail(t, s->failure());
            co_return;
        }
        const auto t1 = Worker::Clock::now();
        if (reply != request) {
            w.fail(t, "read: the reply differs from the request");
            co_return;
        }
        if (w.counts(t)) {
            ++st.completed;
            st.exchange_ns.record(static_cast<std::uint64_t>((t1 - t0).count()));
            w.completed(t1);
        }
    }
    st.closes.add(co_await s->close_gracefully(w.linger()));
}

}  // namespace

awaitable<void> latency_main(Worker& w) {
    const std::size_t n = w.share(w.options().concurrency);
    auto streams = co_await establish_all(w, n);
    co_await w.ready();
    TaskGroup loops(w);
    for (std::size_t i = 0; i < streams.size(); ++i)
        loops.spawn(round_trips(w, std::move(streams[i]), static_cast<unsigned>(w.index() * 100003 + i)));
    co_await loops.join();
}

}  // namespace ward::loadgen
