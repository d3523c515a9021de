// SPDX-License-Identifier: Apache-2.0
#pragma once
// What one worker counted; merged across workers for the report. Plain members, owned by
// one thread while the run lasts and read by the main thread after the workers are joined.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "bench/loadgen/histogram.hpp"
#include "bench/loadgen/stream.hpp"

namespace ward::loadgen {

// The TLS parameters of the first successful handshake.
struct Negotiated {
    bool known = false;
    std::string version;
    std::string cipher;
    std::string group;
};

struct CloseCounts {
    std::uint64_t close_notify = 0;
    std::uint64_t eof = 0;
    std::uint64_t tls_error = 0;
    std::uint64_t error = 0;
    std::uint64_t timeout = 0;
    std::uint64_t aborted = 0;

    void add(CloseResult r);
    void merge(const CloseCounts& o);
};

struct Stats {
    std::uint64_t completed = 0;     // handshakes or round trips, in the measured window
    std::uint64_t failed = 0;        // in the measured window, and setup failures
    std::uint64_t resumed = 0;       // of completed: SSL_session_reused
    std::uint64_t established = 0;   // connections set up before measuring (bulk, latency, idle)
    std::uint64_t bytes_up = 0;      // application bytes, in the measured window
    std::uint64_t bytes_down = 0;
    std::uint64_t closed_by_peer = 0;  // idle: connections the server closed while held
    std::map<std::string, std::uint64_t, std::less<>> failures;  // reason -> count
    CloseCounts closes;
    Histogram connect_ns;    // TCP connect
    Histogram handshake_ns;  // TLS handshake, from TCP connected to handshake done
    Histogram exchange_ns;   // request written to whole reply read

    Negotiated negotiated;

    void add_failure(std::string_view reason);
    void note_negotiated(SSL* ssl);
    void merge(const Stats& other);
};

}  // namespace ward::loadgen
