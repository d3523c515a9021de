// SPDX-License-Identifier: Apache-2.0
#pragma once
// `ward-loadgen backend`: the plaintext TCP server behind the terminator under test, so a
// harness needs no other program. --echo echoes; --source CHUNK streams CHUNK-sized writes
// after a connection's first bytes until the peer closes; --discard reads and drops. One
// event loop per --threads, each with its own SO_REUSEPORT listener.
#include "bench/loadgen/options.hpp"

namespace ward::loadgen {

// Runs until SIGINT/SIGTERM; returns the exit status.
int run_backend(const Options& options);

}  // namespace ward::loadgen
