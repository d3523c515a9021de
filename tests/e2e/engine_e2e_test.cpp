// SPDX-License-Identifier: Apache-2.0
// The relay engine of the real ward binary, as a process: backpressure measured on its resident
// memory, the handshake timeout, the per-listener connection limit and its metric (read with
// curl), reload through `ward reload` and SIGHUP, and SIGTERM.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>
#include <algorithm>
#include <barrier>
#include <regex>
#include <string>
#include <thread>

#include "tls/library.hpp"
#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::TcpBackend;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::TlsClient;
using ward::test::WardProcess;
using clock_type = std::chrono::steady_clock;

constexpr std::uint64_t kMiB = 1024 * 1024;

struct Setup {
    TempDir dir{"e2e-engine"};
    TestPki pki{dir.path() / "pki"};

    // A client context that verifies ward against the test CA (server.test).
    ward::tls::UniqueSslCtx client_ctx(const std::string& ciphersuites = {}) const {
        ward::test::PeerOptions o;
        o.trust_ca = pki.ca().cert;
        if (!ciphersuites.empty()) o.ciphersuites = ciphersuites;
        return ward::test::make_peer_ctx(o);
    }
};

// One `tls` listener, "relay", in front of `backend`, with a server-authentication context
// "web"; `extra_context` goes into the context, `extra` at the top level.
std::string tls_config(const std::string& backend, const std::string& extra_context = {},
                       const std::string& listener_extra = {}, const std::string& extra = {}) {
    std::string yaml = ward::e2e::pki_sections();
    yaml += "tls_contexts:\n"
            "  web:\n"
            "    certificate: server\n"
            "    verify_peer: none\n" + extra_context;
    yaml += "listeners:\n"
            "  - name: relay\n"
            "    protocol: tls\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [" + backend + "]\n"
            "    tls_context: web\n" + listener_extra;
    return yaml + extra;
}


// Polls `predicate` every 20 ms until it holds or the deadline passes: for ward's metrics, which
// a test can only read over HTTP (nothing notifies). TcpBackend counters use wait_until instead.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds deadline) {
    const auto until = clock_type::now() + deadline;
    while (!predicate()) {
        if (clock_type::now() >= until) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// Sends a line and reads it back through an echo backend.
bool echoes(TlsClient& client, const std::string& line) {
    return client.send(line) && client.read(line.size(), 10s) == line;
}

std::string cipher_of(const TlsClient& client) { return SSL_get_cipher_name(client.ssl()); }

// The value of a sample line of the Prometheus text ("" when it is not there).
std::string metric(const std::string& text, const std::string& sample) {
    const auto at = text.find("\n" + sample + " ");
    if (at == std::string::npos) return "";
    const auto start = at + 1 + sample.size() + 1;
    return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

TEST_CASE("engine e2e: a client that stops reading stalls the backend and ward's memory stays bounded") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::source, std::uint64_t{1} << 30);  // 1 GiB
    WardProcess ward(ward::e2e::write_config(s.dir.path(), tls_config(backend.endpoint(), {}, {},
                                                                      "limits: { buffer_size: 16KiB }\n"
                                                                      "metrics: { enabled: false }\n")));
    INFO("ward log:\n" << ward.log());

    const auto ctx = s.client_ctx();
    const auto rss_before = ward.rss_bytes();
    REQUIRE(rss_before > 0);
    TlsClient client(ward.port("relay"), ctx.get());
    REQUIRE_MESSAGE(client.ok(), client.error());
    // The client reads nothing from here on. The backend sends as fast as ward takes it; once
    // the kernel buffers on both of ward's sockets are full, ward must stop reading from the
    // backend, and the backend's count stops growing.
    REQUIRE(backend.wait_until([&] { return backend.bytes_sent() > 0; }, 10s));
    const auto until = clock_type::now() + 20s;
    std::uint64_t last = backend.bytes_sent();
    int unchanged = 0;
    while (unchanged < 4 && clock_type::now() < until) {
        // A sampling interval, not a synchronisation: the stall is "no growth for 4 samples".
        std::this_thread::sleep_for(250ms);
        const auto now = backend.bytes_sent();
        unchanged = now == last ? unchanged + 1 : 0;
        last = now;
    }
    const auto rss_after = ward.rss_bytes();
    INFO("backend sent " << last << " bytes; ward VmRSS " << rss_before << " -> " << rss_after);
    REQUIRE_MESSAGE(unchanged >= 4, "the backend never stalled: ward keeps reading what it cannot deliver");
    CHECK(last < 256 * kMiB);  // far below the 1 GiB on offer: kernel buffers, not ward's
    CHECK(rss_after < rss_before + 10 * kMiB);

    // The session is alive, only stalled: reading resumes the flow. (Read on until the backend
    // moves: a socket whose send buffer the kernel grew to several MiB is reported writable
    // again only once a third of it is free, so one MiB read may not be enough to wake ward.)
    const auto resume_until = clock_type::now() + 20s;
    std::size_t read_total = 0;
    bool only_x = true;
    while (backend.bytes_sent() <= last && clock_type::now() < resume_until) {
        const auto got = client.read(1 * kMiB, 2s);
        if (got.empty()) break;
        read_total += got.size();
        only_x = only_x && got.find_first_not_of('x') == std::string::npos;
    }
    INFO("read " << read_total << " bytes after the stall");
    CHECK(read_total >= 1 * kMiB);
    CHECK(only_x);
    CHECK(backend.wait_until([&] { return backend.bytes_sent() > last; }, 10s));
}

TEST_CASE("engine e2e: a TCP connection that never sends a ClientHello is closed at handshake_timeout") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    WardProcess ward(ward::e2e::write_config(s.dir.path(), tls_config(backend.endpoint(), {}, {},
                                                                      "limits: { handshake_timeout: 1s }\n"
                                                                      "metrics: { enabled: false }\n")));
    INFO("ward log:\n" << ward.log());

    const int fd = ward::test::connect_tcp(ward.port("relay"));
    REQUIRE(fd >= 0);
    const auto started = clock_type::now();
    std::string got;
    const bool closed = ward::test::wait_closed(fd, 10s, &got);
    const auto elapsed = clock_type::now() - started;
    ::close(fd);
    INFO("closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << "ms");
    REQUIRE(closed);
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 5s);
    CHECK(got.empty());
    CHECK(ward.wait_for_log("refused in handshake: no TLS handshake within 1000ms"));
    CHECK(backend.connections() == 0);
}

TEST_CASE("engine e2e: max_connections holds across workers and the refusal shows in the metrics") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    WardProcess ward(ward::e2e::write_config(
        s.dir.path(), tls_config(backend.endpoint(), {}, "    limits: { max_connections: 2 }\n",
                                 "workers: 2\nmetrics: { bind: '127.0.0.1:0' }\n")));
    INFO("ward log:\n" << ward.log());
    const auto port = ward.port("relay");
    const auto ctx = s.client_ctx();

    auto first = std::make_unique<TlsClient>(port, ctx.get());
    TlsClient second(port, ctx.get());
    REQUIRE_MESSAGE(first->ok(), first->error());
    REQUIRE_MESSAGE(second.ok(), second.error());
    // Both are relaying (so both are counted, whichever worker accepted them).
    REQUIRE(echoes(*first, "one\n"));
    REQUIRE(echoes(second, "two\n"));

    const auto started = clock_type::now();
    TlsClient third(port, ctx.get(), "server.test", 5s);
    const auto elapsed = clock_type::now() - started;
    CHECK_MESSAGE(!third.ok(), "a third session was established");
    INFO("third: " << third.error());
    CHECK(elapsed < 2s);  // closed at once, not at a timeout

    const auto metrics_url = "http://127.0.0.1:" + std::to_string(ward.metrics_port()) + "/metrics";
    const auto scrape = ward::test::run_process({"curl", "-sS", "--max-time", "10", metrics_url}, 20s);
    INFO(scrape.out << scrape.err);
    REQUIRE(scrape.exit_code == 0);
    CHECK(metric(scrape.out, "ward_connections_refused_total{listener=\"relay\",protocol=\"tls\","
                             "reason=\"listener_limit\"}") == "1");
    CHECK(metric(scrape.out, "ward_sessions_active{listener=\"relay\",protocol=\"tls\"}") == "2");
    CHECK(backend.connections() == 2);

    // The two sessions are untouched, and a slot that frees up can be used again.
    CHECK(echoes(second, "still here\n"));
    first->shutdown();
    first.reset();
    CHECK(ward.wait_for_log(std::regex(R"(\[session\] [^\n]* relay 127\.0\.0\.1:[0-9]+ -> [^\n]* closed )"
                                       R"(phase=relay)")));
    TlsClient fourth(port, ctx.get());
    REQUIRE_MESSAGE(fourth.ok(), fourth.error());
    CHECK(echoes(fourth, "four\n"));
}

// The metrics text, fetched over a plain TCP connection (the endpoint answers and closes).
std::string scrape_metrics(std::uint16_t port) {
    const int fd = ward::test::connect_tcp(port);
    if (fd < 0) return "";
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    std::string got;
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()))
        ward::test::wait_closed(fd, 10s, &got);
    ::close(fd);
    return got;
}

TEST_CASE("engine e2e: max_connections holds when both workers accept at the same moment") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    WardProcess ward(ward::e2e::write_config(
        s.dir.path(), tls_config(backend.endpoint(), {}, "    limits: { max_connections: 1, handshake_timeout: 30s }\n",
                                 "workers: 2\nmetrics: { bind: '127.0.0.1:0' }\n")));
    INFO("ward log:\n" << ward.log());
    const auto port = ward.port("relay");
    const auto metrics_port = ward.metrics_port();
    const std::string accepted = "ward_connections_accepted_total{listener=\"relay\",protocol=\"tls\"}";
    const std::string active = "ward_sessions_active{listener=\"relay\",protocol=\"tls\"}";
    constexpr int kRounds = 100;
    constexpr int kBurst = 4;
    int total = 0;
    int over = 0;
    int worst = 0;
    for (int round = 0; round < kRounds; ++round) {
        // Four threads connect at the same moment, so that both workers (SO_REUSEPORT spreads
        // the connections) admit at once; the connections stay open without a ClientHello, so
        // each one ward admits stays a session until the round ends.
        std::vector<int> fds(kBurst, -1);
        std::vector<int> errors(kBurst, 0);
        std::barrier start(kBurst);
        std::vector<std::thread> threads;
        for (int i = 0; i < kBurst; ++i)
            threads.emplace_back([&, i] {
                start.arrive_and_wait();
                fds[static_cast<std::size_t>(i)] = ward::test::connect_tcp(port);
                errors[static_cast<std::size_t>(i)] = errno;
            });
        for (auto& t : threads) t.join();
        for (std::size_t i = 0; i < fds.size(); ++i)
            REQUIRE_MESSAGE(fds[i] >= 0, "round " << round << ": connect: " << std::strerror(errors[i]));
        total += kBurst;
        std::string text;
        REQUIRE(eventually(
            [&] {
                text = scrape_metrics(metrics_port);
                return metric(text, accepted) == std::to_string(total);
            },
            10s));
        const int open_sessions = std::stoi(metric(text, active));
        worst = std::max(worst, open_sessions);
        if (open_sessions > 1) ++over;
        for (int fd : fds) ::close(fd);
        REQUIRE(eventually([&] { return metric(scrape_metrics(metrics_port), active) == "0"; }, 10s));
    }
    INFO("bursts that opened more sessions than the limit of 1: " << over << " of " << kRounds << " (at most "
                                                                   << worst << " sessions at once)");
    CHECK(over == 0);
}

TEST_CASE("engine e2e: a broken configuration is refused on reload and a valid one applies to new connections only") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    const auto yaml = tls_config(backend.endpoint(), "    ciphers: [TLS_AES_256_GCM_SHA384]\n", {},
                                 "metrics: { enabled: false }\npid_file: ward.pid\n");
    const auto file = ward::e2e::write_config(s.dir.path(), yaml);
    WardProcess ward(file);
    INFO("ward log:\n" << ward.log());
    const auto port = ward.port("relay");
    // The client offers both suites; the server's selection decides.
    const auto ctx = s.client_ctx("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");

    TlsClient before(port, ctx.get());
    REQUIRE_MESSAGE(before.ok(), before.error());
    CHECK(cipher_of(before) == "TLS_AES_256_GCM_SHA384");
    REQUIRE(echoes(before, "before any reload\n"));

    // A cipher the TLS library does not know: the file loads, building the TLS contexts fails.
    auto broken = yaml;
    broken.replace(broken.find("TLS_AES_256_GCM_SHA384"), 22, "TLS_AES_256_GCM_SHA999");
    ward::test::write_text_file(file, broken);
    const auto mark = ward::test::mark_of(broken, "TLS_AES_256_GCM_SHA999");
    const auto diagnostic = file.string() + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) +
                            ": error: tls_contexts.web.ciphers[0]: 'TLS_AES_256_GCM_SHA999' is not a TLS cipher "
                            "known to " + ward::tls::tls_library_name();
    // `ward reload` runs the whole check first: it prints the problem and signals nothing.
    const auto reload = ward::test::run_process({ward::test::ward_binary(), "reload", "-c", file.string()});
    INFO("ward reload: " << reload.out << reload.err);
    CHECK(reload.exit_code == 78);
    CHECK(contains(reload.err, diagnostic));
    CHECK(contains(reload.err, "configuration is not valid; nothing was signalled"));
    CHECK_FALSE(contains(reload.out, "sent SIGHUP"));
    // The running ward, signalled anyway, refuses it as well.
    const auto refused_mark = ward.log().size();
    REQUIRE(ward.process().signal(SIGHUP));
    const auto failed =
        ward.wait_for_log("reload failed; the running configuration (generation 1) stays in force", 10s, refused_mark);
    CHECK(ward.log().find("reloading", refused_mark) != std::string::npos);
    REQUIRE(failed.has_value());
    CHECK(contains(ward.log(), "reload: " + diagnostic));
    // The old settings stay in force for new connections.
    TlsClient after_failure(port, ctx.get());
    REQUIRE_MESSAGE(after_failure.ok(), after_failure.error());
    CHECK(cipher_of(after_failure) == "TLS_AES_256_GCM_SHA384");
    CHECK(echoes(after_failure, "old settings\n"));

    // A valid change, by signal.
    auto changed = yaml;
    changed.replace(changed.find("TLS_AES_256_GCM_SHA384"), 22, "TLS_AES_128_GCM_SHA256");
    ward::test::write_text_file(file, changed);
    const auto log_mark = ward.log().size();
    REQUIRE(ward.process().signal(SIGHUP));
    REQUIRE(ward.wait_for_log("reloaded: configuration generation 2 in force for new connections", 10s, log_mark));
    TlsClient after_reload(port, ctx.get());
    REQUIRE_MESSAGE(after_reload.ok(), after_reload.error());
    CHECK(cipher_of(after_reload) == "TLS_AES_128_GCM_SHA256");
    CHECK(echoes(after_reload, "new settings\n"));
    // Connections opened before either reload keep relaying, with what they negotiated.
    CHECK(echoes(before, "after the reload\n"));
    CHECK(cipher_of(before) == "TLS_AES_256_GCM_SHA384");
    CHECK(echoes(after_failure, "still relaying\n"));

    // SIGTERM with no session open: ward drains at once and exits 0.
    for (auto* c : {&before, &after_failure, &after_reload}) c->shutdown();
    for (auto* c : {&before, &after_failure, &after_reload}) CHECK(c->wait_closed(10s));
    REQUIRE(ward.process().signal(SIGTERM));
    CHECK(ward.process().wait_exit(15s) == 0);
    CHECK(contains(ward.log(), "info [proxy] stopped"));
    CHECK(!fs::exists(s.dir.path() / "ward.pid"));
}
