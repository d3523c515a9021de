// SPDX-License-Identifier: Apache-2.0
// A worker's lifetime: what its sessions still hold when it goes. Real sockets on loopback; the
// use-after-free this guards against is reported by the ASan/UBSan build (WARD_SANITIZE=ON).
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <future>

#include "proxy/engine/worker.hpp"

using namespace ward;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// What a relay pump does with a slow reader: takes a buffer, then waits for the socket to
// take its bytes, holding the buffer. Here the reader never reads, so the wait never ends.
proxy::awaitable<void> write_to_a_slow_reader(proxy::Worker& worker, proxy::tcp::socket socket,
                                              std::promise<void>& holding) {
    // One buffer of another size already back in the pool, as after any earlier traffic.
    worker.pool().take(1024);
    auto buffer = worker.pool().take(64 * 1024);
    std::memset(buffer.data(), 'x', buffer.size());
    socket.non_blocking(true);
    // Fill the socket's send buffer, then wait for room that never comes.
    for (;;) {
        boost::system::error_code ec;
        socket.write_some(asio::buffer(buffer.data(), buffer.size()), ec);
        if (ec == asio::error::would_block) break;
        if (ec) co_return;
    }
    holding.set_value();
    co_await socket.async_wait(proxy::tcp::socket::wait_write, proxy::use_tuple);
}

}  // namespace

TEST_CASE("worker: a write still pending when the worker goes hands its buffer back to a live pool") {
    // A reader that never reads: a listening socket that accepts nothing (the kernel completes
    // the connection and buffers a little, then the window closes).
    proxy::asio::io_context setup;
    proxy::tcp::acceptor never_reads(setup, {asio::ip::make_address("127.0.0.1"), 0});
    proxy::Metrics metrics;
    std::promise<void> holding;
    {
        proxy::Worker worker(0, metrics);
        proxy::tcp::socket socket(worker.io());
        socket.connect(never_reads.local_endpoint());
        socket.set_option(asio::socket_base::send_buffer_size(4096));  // fills at once
        asio::co_spawn(worker.io(), write_to_a_slow_reader(worker, std::move(socket), holding),
                       [](std::exception_ptr) {});
        worker.start();
        REQUIRE(holding.get_future().wait_for(10s) == std::future_status::ready);
        // Stopped as at the end of the drain grace: the coroutine is still waiting, holding its
        // buffer and its socket; the worker's io_context destroys its frame, and the buffer goes
        // back to the pool, which must still exist then.
        worker.stop();
        worker.join();
    }
    CHECK(never_reads.is_open());
}
