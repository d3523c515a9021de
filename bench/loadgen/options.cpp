// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>

namespace ward::loadgen {

namespace {

using ModeMask = unsigned;
constexpr ModeMask bit(Mode m) { return 1u << static_cast<unsigned>(m); }
constexpr ModeMask kHandshake = bit(Mode::handshake);
constexpr ModeMask kResume = bit(Mode::resume);
constexpr ModeMask kBulk = bit(Mode::bulk);
constexpr ModeMask kIdle = bit(Mode::idle);
constexpr ModeMask kLatency = bit(Mode::latency);
constexpr ModeMask kBackend = bit(Mode::backend);
constexpr ModeMask kClient = kHandshake | kResume | kBulk | kIdle | kLatency;
constexpr ModeMask kAll = kClient | kBackend;

struct OptionSpec {
    std::string_view name;
    bool takes_value;
    ModeMask modes;
};

constexpr OptionSpec kSpecs[] = {
    {"--connect", true, kClient},
    {"--threads", true, kAll},
    {"--concurrency", true, kHandshake | kResume | kBulk | kIdle | kLatency},
    {"--duration", true, kHandshake | kResume | kBulk | kLatency},
    {"--count", true, kHandshake | kResume | kLatency},
    {"--warmup", true, kHandshake | kResume | kBulk | kLatency},
    {"--timeout", true, kClient},
    {"--linger", true, kClient},
    {"--tls", true, kClient},
    {"--cipher", true, kClient},
    {"--groups", true, kClient},
    {"--sni", true, kClient},
    {"--from", true, kClient},
    {"--ca", true, kClient},
    {"--verify", false, kClient},
    {"--cert", true, kClient},
    {"--key", true, kClient},
    {"--request", true, kHandshake | kResume | kBulk | kLatency},
    {"--protocol", true, kHandshake | kResume},
    {"--xmpp-domain", true, kHandshake | kResume},
    {"--xmpp", false, kBackend},
    {"--sip", false, kBackend},
    {"--size", true, kBulk},
    {"--direction", true, kBulk},
    {"--connections", true, kIdle},
    {"--hold", true, kIdle},
    {"--plain", false, kLatency},
    {"--listen", true, kBackend},
    {"--echo", false, kBackend},
    {"--source", true, kBackend},
    {"--discard", false, kBackend},
    {"--json", false, kAll},
    {"--help", false, kAll},
};

const OptionSpec* find_spec(std::string_view name) {
    for (const auto& s : kSpecs)
        if (s.name == name) return &s;
    return nullptr;
}

std::optional<Mode> parse_mode(std::string_view s) {
    for (Mode m : {Mode::handshake, Mode::resume, Mode::bulk, Mode::idle, Mode::latency, Mode::backend})
        if (to_string(m) == s) return m;
    return std::nullopt;
}

template <class T>
std::optional<T> parse_integer(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<double> parse_seconds(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || !std::isfinite(v) || v < 0)
        return std::nullopt;
    return v;
}

class Parser {
public:
    explicit Parser(std::span<const std::string_view> args) : args_(args) {}

    ParsedOptions run();

private:
    void error(std::string message) { out_.errors.push_back(std::move(message)); }
    void apply(std::string_view name, std::string_view value);
    void defaults_and_checks();

    bool given(std::string_view name) const {
        return std::find(given_.begin(), given_.end(), name) != given_.end();
    }

    template <class T>
    void positive_integer(std::string_view name, std::string_view value, T& into) {
        const auto v = parse_integer<T>(value);
        if (!v || *v == 0)
            error(std::string(name) + ": expected a positive whole number, got '" + std::string(value) + "'");
        else
            into = *v;
    }
    void byte_count(std::string_view name, std::string_view value, std::size_t& into, bool zero_ok) {
        const auto v = parse_size(value);
        if (!v || (*v == 0 && !zero_ok) || *v > (std::uint64_t{1} << 30))
            error(std::string(name) + ": expected a byte count (" + (zero_ok ? "0" : "1") +
                  " to 1G; k and M suffixes allowed), got '" + std::string(value) + "'");
        else
            into = static_cast<std::size_t>(*v);
    }
    std::optional<double> seconds(std::string_view name, std::string_view value, bool zero_ok) {
        const auto v = parse_seconds(value);
        if (!v || (*v == 0 && !zero_ok)) {
            error(std::string(name) + ": expected a number of seconds" + (zero_ok ? "" : " above 0") +
                  ", got '" + std::string(value) + "'");
            return std::nullopt;
        }
        return v;
    }

    std::span<const std::string_view> args_;
    ParsedOptions out_;
    std::vector<std::string_view> given_;
};

ParsedOptions Parser::run() {
    if (args_.empty()) {
        error("missing mode: one of handshake, resume, bulk, idle, latency, backend");
        return std::move(out_);
    }
    if (args_[0] == "--help" || args_[0] == "-h" || args_[0] == "help") {
        out_.options.help = true;
        return std::move(out_);
    }
    const auto mode = parse_mode(args_[0]);
    if (!mode) {
        error("unknown mode '" + std::string(args_[0]) +
              "': expected handshake, resume, bulk, idle, latency or backend");
        return std::move(out_);
    }
    out_.options.mode = *mode;

    for (std::size_t i = 1; i < args_.size(); ++i) {
        std::string_view arg = args_[i];
        if (arg == "-h") arg = "--help";
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        const OptionSpec* spec = find_spec(name);
        if (!spec) {
            error("unknown option '" + std::string(name) + "'");
            continue;
        }
        if (!(spec->modes & bit(*mode))) {
            error(std::string(name) + ": not an option of mode " + std::string(to_string(*mode)));
            if (spec->takes_value && !value && i + 1 < args_.size()) ++i;
            continue;
        }
        if (spec->takes_value && !value) {
            if (i + 1 >= args_.size()) {
                error(std::string(name) + ": missing value");
                continue;
            }
            value = args_[++i];
        } else if (!spec->takes_value && value) {
            error(std::string(name) + ": takes no value");
            continue;
        }
        if (given(name)) error(std::string(name) + ": given more than once");
        given_.push_back(spec->name);
        apply(spec->name, value.value_or(std::string_view{}));
    }
    if (!out_.options.help) defaults_and_checks();
    return std::move(out_);
}

void Parser::apply(std::string_view name, std::string_view value) {
    Options& o = out_.options;
    if (name == "--connect" || name == "--listen") {
        const auto hp = parse_host_port(value);
        if (!hp || (name == "--connect" && hp->port == 0))
            error(std::string(name) + ": expected HOST:PORT or [IPV6]:PORT, got '" + std::string(value) + "'");
        else
            (name == "--connect" ? o.target : o.listen) = *hp;
    } else if (name == "--threads") {
        positive_integer(name, value, o.threads);
        if (o.threads > 256) error("--threads: at most 256");
    } else if (name == "--concurrency") {
        positive_integer(name, value, o.concurrency);
    } else if (name == "--duration" || name == "--hold") {
        o.duration_s = seconds(name, value, false);
    } else if (name == "--count") {
        std::uint64_t n = 0;
        positive_integer(name, value, n);
        if (n) o.count = n;
    } else if (name == "--warmup") {
        o.warmup_s = seconds(name, value, true).value_or(0);
    } else if (name == "--timeout") {
        o.timeout_s = seconds(name, value, false).value_or(10);
    } else if (name == "--linger") {
        o.linger_s = seconds(name, value, false).value_or(2);
    } else if (name == "--tls") {
        if (value == "1.2")
            o.tls = TlsVersion::v1_2;
        else if (value == "1.3")
            o.tls = TlsVersion::v1_3;
        else
            error("--tls: expected 1.2 or 1.3, got '" + std::string(value) + "'");
    } else if (name == "--cipher") {
        o.cipher = value;
        if (value.empty()) error("--cipher: empty");
    } else if (name == "--groups") {
        o.groups = value;
        if (value.empty()) error("--groups: empty");
    } else if (name == "--from") {
        in6_addr v6{};
        in_addr v4{};
        o.from = std::string(value);
        if (inet_pton(AF_INET, o.from.c_str(), &v4) != 1 && inet_pton(AF_INET6, o.from.c_str(), &v6) != 1)
            error("--from: expected a local IP address, got '" + o.from + "'");
    } else if (name == "--sni") {
        o.sni = value;
        if (value.empty()) error("--sni: empty");
    } else if (name == "--ca") {
        o.ca = value;
    } else if (name == "--verify") {
        o.verify = true;
    } else if (name == "--cert") {
        o.cert = value;
    } else if (name == "--key") {
        o.key = value;
    } else if (name == "--request") {
        byte_count(name, value, o.request, true);
    } else if (name == "--protocol") {
        if (value == "tls")
            o.protocol = Protocol::tls;
        else if (value == "xmpp-starttls")
            o.protocol = Protocol::xmpp_starttls;
        else if (value == "xmpp-tls")
            o.protocol = Protocol::xmpp_tls;
        else if (value == "sip")
            o.protocol = Protocol::sip;
        else
            error("--protocol: expected tls, xmpp-starttls, xmpp-tls or sip, got '" + std::string(value) + "'");
    } else if (name == "--xmpp-domain") {
        o.xmpp_domain = value;
        if (value.empty()) error("--xmpp-domain: empty");
    } else if (name == "--xmpp") {
        o.backend = BackendKind::xmpp;
    } else if (name == "--sip") {
        o.backend = BackendKind::sip;
    } else if (name == "--size") {
        byte_count(name, value, o.size, false);
    } else if (name == "--direction") {
        if (value == "up")
            o.direction = Direction::up;
        else if (value == "down")
            o.direction = Direction::down;
        else if (value == "both")
            o.direction = Direction::both;
        else
            error("--direction: expected up, down or both, got '" + std::string(value) + "'");
    } else if (name == "--connections") {
        positive_integer(name, value, o.connections);
    } else if (name == "--plain") {
        o.plain = true;
    } else if (name == "--echo") {
        o.backend = BackendKind::echo;
    } else if (name == "--source") {
        o.backend = BackendKind::source;
        byte_count(name, value, o.source_chunk, false);
    } else if (name == "--discard") {
        o.backend = BackendKind::discard;
    } else if (name == "--help") {
        o.help = true;
    }
    // --json: JSON is the only output format; accepted for explicitness.
}

void Parser::defaults_and_checks() {
    Options& o = out_.options;
    const Mode m = o.mode;

    if (m == Mode::backend) {
        if (!given("--listen")) error("backend: --listen HOST:PORT is required");
        if (int(given("--echo")) + int(given("--source")) + int(given("--discard")) + int(given("--xmpp")) +
                int(given("--sip")) > 1)
            error("backend: choose one of --echo, --source, --discard, --xmpp, --sip");
        return;
    }

    if (!given("--connect")) error(std::string(to_string(m)) + ": --connect HOST:PORT is required");

    // Mode defaults.
    if (!given("--concurrency")) {
        if (m == Mode::handshake || m == Mode::resume) o.concurrency = 32;
        if (m == Mode::idle) o.concurrency = 64;  // handshakes in flight while establishing
    }
    if (m == Mode::latency && !given("--request")) o.request = 64;
    if (m == Mode::bulk && !given("--request")) o.request = 64;
    if (m == Mode::latency && !o.count && !o.duration_s) o.count = 10000;
    if (m != Mode::idle && m != Mode::latency && !o.duration_s && !o.count) o.duration_s = 10;

    if (m == Mode::latency && o.request == 0) error("--request: latency needs at least 1 byte");
    if (m == Mode::bulk && given("--request") && o.direction != Direction::down)
        error("--request: bulk sends --size blocks; --request is the request of --direction down");
    if (m == Mode::bulk && o.direction == Direction::down && o.request == 0)
        error("--request: --direction down needs a request of at least 1 byte");
    if (m == Mode::idle && o.connections == 0) error("idle: --connections N is required");

    const std::size_t parallel = m == Mode::idle ? o.connections : o.concurrency;
    if (parallel && o.threads > parallel)
        error("--threads " + std::to_string(o.threads) + " exceeds " +
              (m == Mode::idle ? "--connections " : "--concurrency ") + std::to_string(parallel) +
              ": a thread with no connection would only idle");

    if (o.plain) {
        for (std::string_view tls_option : {"--tls", "--cipher", "--groups", "--sni", "--ca", "--verify", "--cert", "--key"})
            if (given(tls_option)) error(std::string(tls_option) + ": meaningless with --plain");
    }
    if (o.protocol != Protocol::tls && o.request > 0)
        error("--request: the protocol's own exchange replaces the echo with --protocol " +
              std::string(to_string(o.protocol)));
    if (given("--xmpp-domain") && o.protocol != Protocol::xmpp_starttls && o.protocol != Protocol::xmpp_tls)
        error("--xmpp-domain: only with --protocol xmpp-starttls or xmpp-tls");
    if (o.verify && o.ca.empty()) error("--verify: needs --ca FILE (the certificates to trust)");
    if (!o.ca.empty() && !o.verify) error("--ca: only used with --verify");
    if (o.cert.empty() != o.key.empty()) error("--cert and --key go together");
}

}  // namespace

std::string_view to_string(Mode mode) {
    switch (mode) {
        case Mode::handshake: return "handshake";
        case Mode::resume: return "resume";
        case Mode::bulk: return "bulk";
        case Mode::idle: return "idle";
        case Mode::latency: return "latency";
        case Mode::backend: return "backend";
    }
    return "?";
}

std::string_view to_string(TlsVersion version) { return version == TlsVersion::v1_2 ? "1.2" : "1.3"; }

std::string_view to_string(Direction direction) {
    switch (direction) {
        case Direction::up: return "up";
        case Direction::down: return "down";
        case Direction::both: return "both";
    }
    return "?";
}

std::string_view to_string(BackendKind kind) {
    switch (kind) {
        case BackendKind::echo: return "echo";
        case BackendKind::source: return "source";
        case BackendKind::discard: return "discard";
        case BackendKind::xmpp: return "xmpp";
        case BackendKind::sip: return "sip";
    }
    return "?";
}

std::string_view to_string(Protocol protocol) {
    switch (protocol) {
        case Protocol::tls: return "tls";
        case Protocol::xmpp_starttls: return "xmpp-starttls";
        case Protocol::xmpp_tls: return "xmpp-tls";
        case Protocol::sip: return "sip";
    }
    return "?";
}

std::string HostPort::text() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text) {
    HostPort hp;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        hp.host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
        hp.host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    const auto p = parse_integer<std::uint16_t>(port);
    if (hp.host.empty() || !p) return std::nullopt;
    hp.port = *p;
    return hp;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t multiple = 1;
    if (text.ends_with('k') || text.ends_with('K')) {
        multiple = 1024;
        text.remove_suffix(1);
    } else if (text.ends_with('M') || text.ends_with('m')) {
        multiple = 1024 * 1024;
        text.remove_suffix(1);
    }
    const auto v = parse_integer<std::uint64_t>(text);
    if (!v || *v > UINT64_MAX / multiple) return std::nullopt;
    return *v * multiple;
}

ParsedOptions parse_options(std::span<const std::string_view> args) { return Parser(args).run(); }

std::string usage() {
    return R"(ward-loadgen: a TLS load generator for benchmarking TLS terminators; reports JSON on stdout.

usage: ward-loadgen MODE --connect HOST:PORT [options]
       ward-loadgen backend --listen HOST:PORT [--echo | --source BYTES | --discard | --xmpp | --sip]
                            [--threads N]

modes
  handshake   full handshakes: new TCP connection + TLS handshake without resumption (no
              tickets, no session reuse), optional --request echo, close_notify, close.
              Rate and connect/handshake latency percentiles. Default --concurrency 32.
  resume      one full handshake per thread for a session, then every connection resumes
              the newest session the server issued (TLS 1.3 tickets renew on every
              connection). Counts resumed vs full; exit 2 if fewer than 99% resumed.
  bulk        --concurrency connections each writing --size blocks (default 16k) and reading
              the echo; MiB/s each way. --direction up|down|both (default both); down
              sends one --request (default 64 bytes) and reads what a `backend --source`
              streams.
  idle        opens --connections N TLS connections (--concurrency handshakes at a time,
              default 64), prints {"mode":"idle","event":"established",...} as soon as all
              are done, holds them until SIGTERM/SIGINT or --hold SECONDS, then closes all.
  latency     --concurrency connections (default 1) doing --request BYTES (default 64)
              request/echo round trips, --count N in all (default 10000) or --duration;
              percentiles in microseconds. --plain: plaintext TCP (the backend directly).
  backend     plaintext TCP server for the terminator to forward to. --echo (default):
              echoes; --source BYTES: after a connection's first bytes, streams BYTES-sized
              writes until the peer closes (for bulk --direction down); --discard: reads
              and drops; --xmpp: answers a stream header with its own and features
              (SASL PLAIN), then reads and drops; --sip: answers each request with 200 OK. Prints {"listening":"HOST:PORT"} at start and a summary line at
              SIGTERM/SIGINT.

options
  --connect HOST:PORT   the terminator (or, with latency --plain, the backend)
  --threads N           event-loop threads, each with its own connections (default 1)
  --concurrency N       connections in flight (mode defaults above)
  --duration SECONDS    measured time (default 10; latency: --count 10000)
  --count N             stop after N measured operations (handshakes or round trips);
                        with --duration as well, whichever comes first
  --warmup SECONDS      run this long before measuring (default 0)
  --timeout SECONDS     a connection making no progress this long fails (default 10)
  --linger SECONDS      how long a close waits for the peer to close too (default 2)
  --request BYTES       handshake/resume: after the handshake send BYTES and read the echo
  --protocol P          handshake/resume: what each connection speaks, as a real peer does:
                        tls (default); xmpp-starttls: stream header, features with
                        <starttls/>, <starttls/>, <proceed/>, TLS, the restarted header, and the
                        backend's header and features (verified: no STARTTLS, no compression);
                        xmpp-tls: TLS first with ALPN xmpp-client, then as after STARTTLS;
                        sip: TLS, one OPTIONS request, a 200 response
  --xmpp-domain NAME    the stream's 'to' (default example.org)
  --tls 1.2|1.3         only this version (default: 1.2 or 1.3, as negotiated)
  --cipher LIST         colon-separated; TLS_* names are TLS 1.3 suites, the rest TLS 1.2
                        ciphers. Naming only one kind restricts the version to it.
  --groups LIST         key exchange groups, e.g. P-256 or X25519:P-256
  --from ADDRESS        the local address connections come from (e.g. 127.0.0.2)
  --sni NAME            server name to send (default: the --connect host if it is a name)
  --ca FILE --verify    verify the server's chain against FILE and its name (the --sni
                        name, else the --connect host); a failure counts as a failure
  --cert FILE --key FILE  client certificate (PEM, chain allowed) and key
  --size BYTES          bulk write size (default 16k)
  --connections N       idle: how many connections
  --hold SECONDS        idle: hold time (default: until SIGTERM/SIGINT)
  --plain               latency: plaintext TCP instead of TLS
  --json                JSON output (the default and only format)

Sizes accept k and M (1024-based). Each thread runs one event loop with non-blocking OpenSSL
on its sockets. RLIMIT_NOFILE is raised to its hard limit.

The report: one JSON object on one line of stdout (idle prints its "established" line
first). "generator_saturated": true says the generator's threads were over 90% busy: it may
have set the pace, not the server.

exit status: 0 every operation succeeded; 1 some failed (the report says which and why) or
none completed; 2 resume: fewer than 99% of handshakes resumed; 64 bad usage or TLS settings;
70 internal error.
)";
}

}  // namespace ward::loadgen
