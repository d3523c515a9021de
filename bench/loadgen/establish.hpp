// SPDX-License-Identifier: Apache-2.0
#pragma once
// Opening one connection for the modes that keep connections (bulk, latency, idle): TCP
// connect, then the TLS handshake unless --plain. Setup counts go to the worker's stats
// (established, or a failure with its reason) whatever the phase.
#include <memory>
#include <vector>

#include "bench/loadgen/asio.hpp"
#include "bench/loadgen/stream.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

// nullptr on failure (already counted).
awaitable<std::unique_ptr<Stream>> establish(Worker& w);

// Opens `n` connections at once; those that failed are counted and left out.
awaitable<std::vector<std::unique_ptr<Stream>>> establish_all(Worker& w, std::size_t n);

// A deterministic, non-repeating-looking payload (so an echo that mixes up bytes shows).
std::vector<unsigned char> make_payload(std::size_t size, unsigned seed);

}  // namespace ward::loadgen
