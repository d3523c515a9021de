// SPDX-License-Identifier: Apache-2.0
// bulk: established connections streaming data, counted in the measured window.
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "bench/loadgen/establish.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

namespace {

// A stream whose socket always has room (or data) completes every operation at once and never
// suspends, which would starve the other connections and the timers of the thread: give the
// event loop a turn every so many blocks.
constexpr unsigned kBlocksPerTurn = 16;

awaitable<void> yield_turn(Worker& w) { co_await asio::post(w.io(), asio::use_awaitable); }

// Writes --size blocks until the run stops (or, for --direction down, one request and then
// nothing), then ends the sending side: close_notify and FIN.
awaitable<void> writer(Worker& w, Stream& s, const std::vector<unsigned char>& block) {
    const Options& o = w.options();
    Stats& st = w.stats();
    if (o.direction == Direction::down) {
        const Outcome written = co_await s.write_all(block.data(), o.request);
        if (written != Outcome::ok) {
            if (!w.stopping()) st.add_failure(s.failure());
            co_return;
        }
        co_await w.wait_stop();
    } else {
        for (unsigned blocks = 1; !w.stopping(); ++blocks) {
            const Outcome written = co_await s.write_all(block.data(), o.size);
            if (written != Outcome::ok) {
                if (!w.stopping()) st.add_failure(s.failure());
                co_return;
            }
            if (w.recording()) st.bytes_up += o.size;
            if (blocks % kBlocksPerTurn == 0) co_await yield_turn(w);
        }
    }
    s.set_timeout(w.linger());
    co_await s.shutdown_send();
}

// Reads until the peer closes: what arrives in the measured window counts. Past the stop it
// drains what was in flight, until the close that our close_notify causes.
awaitable<void> reader(Worker& w, Stream& s) {
    // Dropped data: one buffer per thread serves every connection (SSL_read copies into it
    // synchronously).
    thread_local std::array<unsigned char, 64 * 1024> sink;
    Stats& st = w.stats();
    for (unsigned reads = 1;; ++reads) {
        std::size_t got = 0;
        const Outcome r = co_await s.read_some(sink.data(), sink.size(), got);
        if (r == Outcome::ok) {
            if (w.recording()) st.bytes_down += got;
            if (reads % kBlocksPerTurn == 0) co_await yield_turn(w);
            continue;
        }
        if (w.stopping()) {
            st.closes.add(r == Outcome::closed ? (s.peer_close_notify() ? CloseResult::close_notify : CloseResult::eof)
                                               : (r == Outcome::failed && s.failure().ends_with("timeout")
                                                      ? CloseResult::timeout
                                                      : CloseResult::error));
            // (a TLS error here, after our close_notify, does not change what was measured)
        } else {
            st.add_failure(r == Outcome::closed ? "read: connection closed by peer while streaming" : s.failure());
        }
        co_return;
    }
}

awaitable<void> flow(Worker& w, std::unique_ptr<Stream> s, const std::vector<unsigned char>& block) {
    using namespace asio::experimental::awaitable_operators;
    co_await (writer(w, *s, block) && reader(w, *s));
    s->close();
}

}  // namespace

awaitable<void> bulk_main(Worker& w) {
    const Options& o = w.options();
    const std::size_t n = w.share(o.concurrency);
    auto streams = co_await establish_all(w, n);
    co_await w.ready();
    const auto block = make_payload(std::max(o.size, o.request), w.index());
    TaskGroup flows(w);
    for (auto& s : streams) flows.spawn(flow(w, std::move(s), block));
    co_await flows.join();
}

}  // namespace ward::loadgen
