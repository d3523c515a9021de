// SPDX-License-Identifier: Apache-2.0
#pragma once
// The command line of ward-loadgen, parsed and validated without any I/O: every problem is
// collected (not just the first), and an option that does not apply to the chosen mode is an
// error rather than silently ignored.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ward::loadgen {

enum class Mode { handshake, resume, bulk, idle, latency, backend };
enum class TlsVersion { v1_2, v1_3 };
enum class Direction { up, down, both };
enum class BackendKind { echo, source, discard, xmpp, sip };
// What a handshake/resume connection speaks around TLS (bench/loadgen/protocol.hpp).
enum class Protocol { tls, xmpp_starttls, xmpp_tls, sip };

std::string_view to_string(Mode mode);
std::string_view to_string(TlsVersion version);
std::string_view to_string(Direction direction);
std::string_view to_string(BackendKind kind);
std::string_view to_string(Protocol protocol);

// HOST:PORT or [V6]:PORT, not yet resolved.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    std::string text() const;
};

struct Options {
    Mode mode = Mode::handshake;
    HostPort target;                    // --connect
    unsigned threads = 1;               // --threads
    std::size_t concurrency = 1;        // --concurrency (mode default, see usage)
    std::optional<double> duration_s;   // --duration; --hold for idle
    std::optional<std::uint64_t> count; // --count
    double warmup_s = 0;                // --warmup
    double timeout_s = 10;              // --timeout: no progress for this long fails a connection
    double linger_s = 2;                // --linger: how long a close waits for the peer's close

    // TLS (client modes except latency --plain)
    std::optional<TlsVersion> tls;
    std::string cipher;  // colon-separated; TLS_* names are TLS 1.3 suites
    std::string groups;  // colon-separated
    std::string sni;
    std::string from;  // --from: a local IP address, checked (empty: the kernel's choice)
    std::string ca;
    bool verify = false;
    std::string cert;
    std::string key;

    Protocol protocol = Protocol::tls;   // --protocol
    std::string xmpp_domain = "example.org";  // --xmpp-domain

    std::size_t request = 0;        // --request BYTES
    std::size_t size = 16 * 1024;   // --size BYTES (bulk)
    Direction direction = Direction::both;
    std::size_t connections = 0;    // --connections (idle)
    bool plain = false;             // --plain (latency)

    // backend
    HostPort listen;
    BackendKind backend = BackendKind::echo;
    std::size_t source_chunk = 16 * 1024;

    bool help = false;
};

struct ParsedOptions {
    Options options;
    std::vector<std::string> errors;  // empty: options are valid
};

// args excludes the program name: args[0] is the mode.
ParsedOptions parse_options(std::span<const std::string_view> args);

std::string usage();

// Parses HOST:PORT / [V6]:PORT; nullopt on a malformed value (port 0 allowed).
std::optional<HostPort> parse_host_port(std::string_view text);

// "16384", "16k", "1M" (binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace ward::loadgen
