// SPDX-License-Identifier: Apache-2.0
#pragma once
// The load patterns, each a coroutine run on every worker, and what they report.
#include <cstdint>

#include "bench/loadgen/asio.hpp"

namespace ward::loadgen {

class Worker;
class Run;

// handshake: full handshakes, --concurrency in flight per run.
awaitable<void> handshake_main(Worker& w);
// resume: one full handshake for a session, then resumptions of the newest session.
awaitable<void> resume_main(Worker& w);
// bulk: established connections streaming in one or both directions.
awaitable<void> bulk_main(Worker& w);
// idle: N established connections held open until stopped.
awaitable<void> idle_main(Worker& w);
// idle: the line a harness waits for before measuring the proxy.
void print_idle_established(const Run& run, std::uint64_t established, std::uint64_t failed);
// latency: request/echo round trips over established connections.
awaitable<void> latency_main(Worker& w);

}  // namespace ward::loadgen
