// SPDX-License-Identifier: Apache-2.0
// What a listener admits under a flood: handshakes in flight (max_handshakes_in_flight), and
// per source address (per_source.connections, per_source.handshakes_per_second), each refusal
// closed at once and counted by reason; established sessions are never counted against them,
// other addresses are not held back, and behind a trusted load balancer the limits count the
// clients its PROXY headers name, not the balancer.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <thread>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"
#include "proxy/engine/proxy_header.hpp"
#include "proxy/engine/source_limiter.hpp"

using namespace ward;
using namespace ward::test;
namespace fs = std::filesystem;

namespace {

struct Setup {
    TempDir dir{"limits"};
    TestPki pki{dir.path()};
    TcpBackend backend{TcpBackend::Mode::echo};

    fs::path write(const std::string& listener_extra) const {
        const auto file = dir.path() / "ward.yaml";
        write_text_file(file,
                        "certificates: { server: { cert: server.pem, key: server.key } }\n"
                        "tls_contexts:\n  in: { certificate: server, verify_peer: none }\n"
                        "metrics: { bind: '127.0.0.1:0' }\n"
                        "listeners:\n"
                        "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                            backend.endpoint() + "'], tls_context: in" + listener_extra + " }\n");
        return file;
    }

    tls::UniqueSslCtx client_ctx() const {
        PeerOptions o;
        o.trust_ca = pki.ca().cert;
        return make_peer_ctx(o);
    }
};

std::uint64_t metric(std::uint16_t port, const std::string& series) {
    const auto text = fetch_metrics(port);
    const auto at = text.find(series + " ");
    return at == std::string::npos ? ~0ULL : std::stoull(text.substr(at + series.size() + 1));
}

// The metric once it shows `want`, or what it shows when the deadline passes.
std::uint64_t metric_eventually(std::uint16_t port, const std::string& series, std::uint64_t want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const auto got = metric(port, series);
        if (got == want || std::chrono::steady_clock::now() >= until) return got;
        std::this_thread::yield();
    }
}

std::string refused(const std::string& reason) {
    return "ward_connections_refused_total{listener=\"edge\",protocol=\"tls\",reason=\"" + reason + "\"}";
}
const std::string kInFlight = "ward_handshakes_in_flight{listener=\"edge\",protocol=\"tls\"}";

// A TLS session through ward that relays (an echo).
bool relays(TlsClient& c, const std::string& text) { return c.send(text) && c.read(text.size()) == text; }

// Whether a connection is closed by ward at once (within 2 s, far below handshake_timeout).
bool closed_at_once(int fd) {
    const bool closed = wait_closed(fd, std::chrono::seconds(2));
    ::close(fd);
    return closed;
}

}  // namespace

TEST_CASE("limits: max_handshakes_in_flight closes the excess at once - established sessions do not count") {
    Setup s;
    RunningWard ward(s.write(", limits: { max_handshakes_in_flight: 2, handshake_timeout: 30s }"));
    auto ctx = s.client_ctx();
    TlsClient established(ward.port("edge"), ctx.get());
    REQUIRE_MESSAGE(established.ok(), established.error());
    REQUIRE(relays(established, "one"));
    CHECK(metric_eventually(ward.metrics_port(), kInFlight, 0) == 0);

    // Two connections that never send a ClientHello hold the two places.
    const int idle1 = connect_tcp(ward.port("edge"));
    const int idle2 = connect_tcp(ward.port("edge"));
    REQUIRE(idle1 >= 0);
    REQUIRE(idle2 >= 0);
    REQUIRE(metric_eventually(ward.metrics_port(), kInFlight, 2) == 2);
    CHECK(closed_at_once(connect_tcp(ward.port("edge"))));
    CHECK(metric_eventually(ward.metrics_port(), refused("handshakes_in_flight"), 1) == 1);
    CHECK(relays(established, "still relaying"));

    // One gives up: a new client gets through.
    ::close(idle1);
    REQUIRE(metric_eventually(ward.metrics_port(), kInFlight, 1) == 1);
    TlsClient next(ward.port("edge"), ctx.get());
    REQUIRE_MESSAGE(next.ok(), next.error());
    CHECK(relays(next, "two"));
    ::close(idle2);
}

TEST_CASE("limits: a connection refused at a full listener is reset - and the ones queued behind it are refused in turn") {
    Setup s;
    RunningWard ward(s.write(", limits: { max_handshakes_in_flight: 1, handshake_timeout: 30s }"));
    const int holder = connect_tcp(ward.port("edge"));
    REQUIRE(holder >= 0);
    REQUIRE(metric_eventually(ward.metrics_port(), kInFlight, 1) == 1);
    // A burst: each is reset (no FIN exchange, no TIME_WAIT kept by ward), not left waiting.
    std::vector<int> burst;
    for (int i = 0; i < 8; ++i) burst.push_back(connect_tcp(ward.port("edge")));
    for (const int fd : burst) {
        REQUIRE(fd >= 0);
        timeval limit{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        char octet = 0;
        const auto n = ::recv(fd, &octet, 1, 0);
        const int err = errno;
        CHECK(n < 0);
        CHECK(err == ECONNRESET);
        ::close(fd);
    }
    CHECK(metric_eventually(ward.metrics_port(), refused("handshakes_in_flight"), 8) == 8);
    // Behind a queue of 300 that a flood left, a newcomer still hears its answer soon: the
    // queue is refused in batches, not one connection per pause.
    std::vector<int> queue;
    for (int i = 0; i < 300; ++i) queue.push_back(connect_tcp(ward.port("edge")));
    const auto asked = std::chrono::steady_clock::now();
    const int newcomer = connect_tcp(ward.port("edge"));
    REQUIRE(newcomer >= 0);
    timeval limit{10, 0};
    ::setsockopt(newcomer, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char octet = 0;
    CHECK(::recv(newcomer, &octet, 1, 0) < 0);
    CHECK(std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(1500));
    ::close(newcomer);
    for (const int fd : queue) ::close(fd);
    ::close(holder);
}

TEST_CASE("limits: per_source.connections holds one address back - not another") {
    Setup s;
    RunningWard ward(s.write(", limits: { per_source: { connections: 2 }, handshake_timeout: 30s }"));
    auto ctx = s.client_ctx();
    TlsClient first(ward.port("edge"), ctx.get());
    REQUIRE_MESSAGE(first.ok(), first.error());
    REQUIRE(relays(first, "a"));
    const int idle = connect_tcp(ward.port("edge"));
    REQUIRE(idle >= 0);
    REQUIRE(metric_eventually(ward.metrics_port(), kInFlight, 1) == 1);
    // 127.0.0.1 holds two: the third is closed at once.
    CHECK(closed_at_once(connect_tcp(ward.port("edge"))));
    CHECK(metric_eventually(ward.metrics_port(), refused("source_connections"), 1) == 1);
    // 127.0.0.2 is another source.
    const int other = connect_tcp(ward.port("edge"), "127.0.0.2");
    REQUIRE(other >= 0);
    TlsClient from_other(other, ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(from_other.ok(), from_other.error());
    CHECK(relays(from_other, "b"));
    // A connection that ends gives its place back.
    ::close(idle);
    REQUIRE(metric_eventually(ward.metrics_port(), kInFlight, 0) == 0);
    TlsClient again(ward.port("edge"), ctx.get());
    REQUIRE_MESSAGE(again.ok(), again.error());
    CHECK(relays(again, "c"));
}

TEST_CASE("limits: per_source.handshakes_per_second refuses a burst beyond one second's worth") {
    Setup s;
    RunningWard ward(s.write(", limits: { per_source: { handshakes_per_second: 2 } }"));
    // Ten connections opened and closed as fast as the test can: the bucket holds 2 and refills
    // at 2 a second, so (unless this loop took over two seconds) at least 4 are refused.
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) {
        const int fd = connect_tcp(ward.port("edge"));
        REQUIRE(fd >= 0);
        ::close(fd);
    }
    const auto took = std::chrono::steady_clock::now() - begin;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    // (~0: the metrics could not be read yet; read again.)
    std::uint64_t n = ~0ULL;
    while (((n = metric(ward.metrics_port(), refused("source_rate"))) == ~0ULL || n < 4) &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    if (took < std::chrono::seconds(2)) CHECK(n >= 4);
    CHECK(n <= 8);
    // Another address has its own bucket.
    auto ctx = s.client_ctx();
    const int other = connect_tcp(ward.port("edge"), "127.0.0.2");
    REQUIRE(other >= 0);
    TlsClient from_other(other, ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(from_other.ok(), from_other.error());
    CHECK(relays(from_other, "x"));
}

TEST_CASE("limits: behind a trusted load balancer the per-source limits count the named clients") {
    Setup s;
    RunningWard ward(s.write(", accept_proxy_protocol: ['127.0.0.1'], limits: { per_source: { connections: 1 } }"));
    auto ctx = s.client_ctx();
    auto through_balancer = [&](const char* client) {
        proxy::proxy_v2::Header h;
        const bool v6 = std::string(client).find(':') != std::string::npos;
        h.source.family = h.destination.family =
            v6 ? proxy::proxy_v2::Address::Family::inet6 : proxy::proxy_v2::Address::Family::inet;
        REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, client, h.source.bytes.data()) == 1);
        REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "2001:db8:ffff::1" : "198.51.100.1",
                          h.destination.bytes.data()) == 1);
        h.source.port = 40000;
        h.destination.port = 443;
        const int fd = connect_tcp(ward.port("edge"));
        REQUIRE(fd >= 0);
        REQUIRE(send_raw(fd, proxy::proxy_v2::encode(h)));
        return std::make_unique<TlsClient>(fd, ctx.get(), "server.test", "", std::chrono::seconds(5));
    };
    auto a = through_balancer("203.0.113.7");
    REQUIRE_MESSAGE(a->ok(), a->error());
    REQUIRE(relays(*a, "a"));
    // The same client again: over its limit, though the balancer's address holds two now.
    auto again = through_balancer("203.0.113.7");
    if (again->ok()) CHECK(again->wait_closed());
    CHECK(metric_eventually(ward.metrics_port(), refused("source_connections"), 1) == 1);
    // Another client through the same balancer.
    auto b = through_balancer("203.0.113.8");
    REQUIRE_MESSAGE(b->ok(), b->error());
    CHECK(relays(*b, "b"));
    CHECK(relays(*a, "a still"));

    // IPv6 clients count by their /64: another address of the same /64 is the same client.
    auto c = through_balancer("2001:db8:0:1::1");
    REQUIRE_MESSAGE(c->ok(), c->error());
    REQUIRE(relays(*c, "c"));
    auto same64 = through_balancer("2001:db8:0:1::2");
    if (same64->ok()) CHECK(same64->wait_closed());
    CHECK(metric_eventually(ward.metrics_port(), refused("source_connections"), 2) == 2);
    auto other64 = through_balancer("2001:db8:0:2::1");
    REQUIRE_MESSAGE(other64->ok(), other64->error());
    CHECK(relays(*other64, "d"));
}

TEST_CASE("limits: the source table is bounded - full, it admits new addresses untracked and sweeps idle ones") {
    proxy::SourceLimiter table;
    const auto now = proxy::SourceLimiter::clock::now();
    auto key = [](std::uint32_t n) {
        proxy::SourceKey k;
        k.bytes[12] = static_cast<std::uint8_t>(n >> 24);
        k.bytes[13] = static_cast<std::uint8_t>(n >> 16);
        k.bytes[14] = static_cast<std::uint8_t>(n >> 8);
        k.bytes[15] = static_cast<std::uint8_t>(n);
        return k;
    };
    const std::uint32_t total = proxy::SourceLimiter::kShards * proxy::SourceLimiter::kMaxPerShard;
    // Twice as many addresses as it holds, each holding a connection: nothing can be swept,
    // every shard fills, the rest are admitted untracked.
    std::uint64_t admitted = 0;
    for (std::uint32_t i = 0; i < 2 * total; ++i)
        if (table.admit(key(i), 10, 0, now) == proxy::SourceLimiter::Verdict::admitted) ++admitted;
    CHECK(table.tracked() == total);
    CHECK(admitted == total);
    CHECK(table.untracked() == total);
    // Released, they are swept when new addresses need room: at most once a second.
    for (std::uint32_t i = 0; i < 2 * total; ++i) table.release(key(i));
    CHECK(table.admit(key(10 * total), 10, 0, now) == proxy::SourceLimiter::Verdict::untracked);
    CHECK(table.admit(key(10 * total + 1), 10, 0, now + std::chrono::seconds(2)) ==
          proxy::SourceLimiter::Verdict::admitted);
    // Limits are kept per address: the connection cap, then the rate.
    proxy::SourceLimiter t2;
    CHECK(t2.admit(key(1), 1, 0, now) == proxy::SourceLimiter::Verdict::admitted);
    CHECK(t2.admit(key(1), 1, 0, now) == proxy::SourceLimiter::Verdict::too_many_connections);
    CHECK(t2.admit(key(2), 0, 2, now) == proxy::SourceLimiter::Verdict::admitted);
    CHECK(t2.admit(key(2), 0, 2, now) == proxy::SourceLimiter::Verdict::admitted);
    CHECK(t2.admit(key(2), 0, 2, now) == proxy::SourceLimiter::Verdict::too_fast);
    CHECK(t2.admit(key(2), 0, 2, now + std::chrono::milliseconds(500)) == proxy::SourceLimiter::Verdict::admitted);
    CHECK(t2.admit(key(3), 0, 0, now) == proxy::SourceLimiter::Verdict::untracked);

    // The shards come from a keyed hash: two tables spread the same addresses differently, so
    // no one can pick addresses that crowd one shard.
    proxy::SourceLimiter t3;
    int same = 0;
    for (std::uint32_t i = 0; i < 64; ++i) same += t2.shard_index(key(i)) == t3.shard_index(key(i));
    CHECK(same < 32);
}

TEST_CASE("limits: a plain web client that sent a byte but no request is still a handshake in flight") {
    TempDir dir{"limits-web"};
    TestPki pki{dir.path()};
    TcpBackend backend{TcpBackend::Mode::capture};
    const auto file = dir.path() / "ward.yaml";
    write_text_file(file,
                    "certificates: { server: { cert: server.pem, key: server.key } }\n"
                    "tls_contexts:\n  web-ctx: { certificate: server, verify_peer: none }\n"
                    "security: { xmpp: { web_client_secure: false } }\n"
                    "metrics: { bind: '127.0.0.1:0' }\n"
                    // (The request stays with the backend, which never answers: stopping ward
                    // need not wait the default 30 s for it.)
                    "limits: { drain_timeout: 1s }\n"
                    "listeners:\n"
                    "  - name: web\n    protocol: xmpp-web\n    bind: '127.0.0.1:0'\n    backends: ['" +
                        backend.endpoint() +
                        "']\n    tls_context: web-ctx\n    limits: { max_handshakes_in_flight: 1, handshake_timeout: 30s }\n"
                        "    xmpp: { domains: [chat.example] }\n");
    RunningWard ward(file);
    const std::string in_flight = "ward_handshakes_in_flight{listener=\"web\",protocol=\"xmpp-web\"}";
    const int slow = connect_tcp(ward.port("web"));
    REQUIRE(slow >= 0);
    REQUIRE(send_raw(slow, "G"));  // plain HTTP, one byte, then nothing
    REQUIRE(metric_eventually(ward.metrics_port(), in_flight, 1) == 1);
    CHECK(closed_at_once(connect_tcp(ward.port("web"))));
    CHECK(metric_eventually(ward.metrics_port(),
                            "ward_connections_refused_total{listener=\"web\",protocol=\"xmpp-web\",reason=\"handshakes_in_flight\"}",
                            1) == 1);
    // A whole request settles it.
    REQUIRE(send_raw(slow, "ET /http-bind HTTP/1.1\r\nHost: chat.example\r\n\r\n"));
    CHECK(metric_eventually(ward.metrics_port(), in_flight, 0) == 0);
    ::close(slow);
}
