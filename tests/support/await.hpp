// SPDX-License-Identifier: Apache-2.0
#pragma once
// Running one of ward's coroutines to its end from a test thread: on an io_context of the
// test's own, with a deadline (a coroutine that never completes fails the test, it does not
// hang it).
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <optional>

#include "proxy/engine/asio.hpp"

namespace ward::test {

// Awaits `op` and keeps its result (ward's Result has no empty state, which co_spawn's value
// completion would need).
template <class T>
proxy::awaitable<void> kept(proxy::awaitable<T> op, std::optional<T>& out) {
    auto value = co_await std::move(op);
    out.emplace(std::move(value));
}

// Spawns `op` on `io`, its result into `out` when it completes; `done` counts completions.
template <class T>
void spawn(proxy::asio::io_context& io, proxy::awaitable<T> op, std::optional<T>& out, int& done) {
    if (io.stopped()) io.restart();  // (it stops whenever it ran out of work)
    proxy::asio::co_spawn(io, kept(std::move(op), out), [&done](std::exception_ptr e) {
        ++done;
        if (e) std::rethrow_exception(e);
    });
}

// Runs `io` until `done` reaches `count` or the deadline passes; whether it did.
inline bool run_until(proxy::asio::io_context& io, const int& done, int count, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (done < count && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(100));
    return done >= count;
}

// Runs `op` on `io` until it completes (REQUIREs that it does within the deadline).
template <class T>
T await_in(proxy::asio::io_context& io, proxy::awaitable<T> op,
           std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::optional<T> out;
    int done = 0;
    spawn(io, std::move(op), out, done);
    REQUIRE_MESSAGE(run_until(io, done, 1, deadline), "the call did not complete within the deadline");
    return std::move(*out);
}

}  // namespace ward::test
