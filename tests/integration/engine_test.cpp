// SPDX-License-Identifier: Apache-2.0
// The engine in process, on real loopback sockets: relay and half-close, deadlines, limits,
// refusals, backends, reload, tls-outbound.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <memory>
#include <optional>
#include <vector>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;
using namespace ward::test;
namespace fs = std::filesystem;

namespace {

// A PKI, a client certificate per name, and a configuration with one listener.
struct EngineSetup {
    TempDir dir{"engine"};
    TestPki pki{dir.path()};
    CertFiles client = pki.issue("client", TestPki::client_spec("client.test"));

    std::string config(const std::string& listeners, const std::string& context_extra = "",
                       const std::string& top = "") const {
        return "certificates: { server: { cert: server.pem, key: server.key } }\n"
               "trust_stores: { trust: { dir: trust } }\n"
               "tls_peer_subjects:\n  - { subject: client.test }\n  - { subject: server.test }\n"
               "tls_contexts:\n"
               "  in:\n    certificate: server\n    trust_store: trust\n    peer_subjects: [client.test]\n" +
               context_extra +
               "  out:\n    certificate: server\n    trust_store: trust\n    peer_subjects: [server.test]\n"
               "metrics: { bind: '127.0.0.1:0' }\n"
               "workers: 2\n" +
               top + "listeners:\n" + listeners;
    }

    fs::path write(const std::string& yaml) const {
        const auto file = dir.path() / "ward.yaml";
        write_text_file(file, yaml);
        return file;
    }

    tls::UniqueSslCtx client_ctx(bool with_cert = true) const {
        PeerOptions o;
        if (with_cert) {
            o.cert = client.cert;
            o.key = client.key;
        }
        o.trust_ca = pki.ca().cert;
        return make_peer_ctx(o);
    }
};

std::string tls_listener(const std::string& backend, const std::string& extra = "") {
    return "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" + backend +
           "'], tls_context: in" + extra + " }\n";
}

std::uint64_t metric(const std::string& text, const std::string& series) {
    const auto pos = text.find(series + " ");
    if (pos == std::string::npos) return ~0ULL;
    return std::stoull(text.substr(pos + series.size() + 1));
}

// Counters are updated by the worker just after the event a test observes (a refusal alert
// reaches the client before the worker counts it), so read them until they show the value or
// the deadline passes.
std::uint64_t metric_eventually(std::uint16_t port, const std::string& series, std::uint64_t want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::uint64_t got = 0;
    for (;;) {
        got = metric(fetch_metrics(port), series);
        if (got == want || std::chrono::steady_clock::now() >= until) return got;
        std::this_thread::yield();
    }
}

}  // namespace

TEST_CASE("engine: a tls listener relays both ways and passes the half-close on") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint()))));
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("edge"), ctx.get());
    REQUIRE_MESSAGE(client.ok(), client.error());
    CHECK(client.send("hello through ward"));
    CHECK(client.read(18) == "hello through ward");

    // close_notify from the client becomes a FIN to the backend; the backend's FIN becomes
    // close_notify to the client.
    client.shutdown();
    CHECK(backend.wait_until([&] { return backend.peer_closed(); }));
    CHECK(client.wait_closed());
    CHECK(client.clean_close());
    CHECK(backend.received() == "hello through ward");

    CHECK(metric_eventually(ward.metrics_port(), "ward_handshakes_total{listener=\"edge\",protocol=\"tls\",result=\"ok\"}", 1) == 1);
    CHECK(metric_eventually(ward.metrics_port(),
                            "ward_bytes_total{listener=\"edge\",protocol=\"tls\",direction=\"from_client\"}", 18) == 18);
}

TEST_CASE("engine: stopping with idle relaying sessions closes them and the workers go cleanly") {
    // The relay holds an idle session by its readiness handlers alone (no coroutine frame): a
    // stop must still close it at drain_timeout, and the workers' io_contexts must go after the
    // sessions they hold (the ASan and TSan builds run this too).
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    std::optional<RunningWard> ward;
    ward.emplace(s.write(s.config(tls_listener(backend.endpoint()), "", "limits: { drain_timeout: 200ms }\n")));
    auto ctx = s.client_ctx();
    std::vector<std::unique_ptr<TlsClient>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<TlsClient>(ward->port("edge"), ctx.get()));
        REQUIRE_MESSAGE(clients.back()->ok(), clients.back()->error());
        CHECK(clients.back()->send("idle " + std::to_string(i)));
        CHECK(clients.back()->read(6) == "idle " + std::to_string(i));
    }
    ward.reset();  // request_stop, drain for 200 ms, close what is left, join the workers
    for (auto& c : clients) CHECK(c->wait_closed());
}

TEST_CASE("engine: a connection that never sends a ClientHello is closed at handshake_timeout") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint(), ", limits: { handshake_timeout: 300ms }"))));
    const int fd = connect_tcp(ward.port("edge"));
    REQUIRE(fd >= 0);
    const auto begin = std::chrono::steady_clock::now();
    CHECK(wait_closed(fd, std::chrono::seconds(10)));
    const auto waited = std::chrono::steady_clock::now() - begin;
    ::close(fd);
    CHECK(waited >= std::chrono::milliseconds(250));
    CHECK(waited < std::chrono::seconds(5));
    CHECK(backend.connections() == 0);
    CHECK(metric_eventually(ward.metrics_port(), "ward_handshakes_total{listener=\"edge\",protocol=\"tls\",result=\"timeout\"}", 1) == 1);
}

TEST_CASE("engine: max_connections closes the excess at once and counts it") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint(), ", limits: { max_connections: 1 }"))));
    auto ctx = s.client_ctx();
    TlsClient first(ward.port("edge"), ctx.get());
    REQUIRE(first.ok());
    CHECK(first.send("a"));
    CHECK(first.read(1) == "a");  // established and relaying
    TlsClient second(ward.port("edge"), ctx.get(), "server.test", std::chrono::seconds(5));
    CHECK_FALSE(second.ok());
    CHECK(backend.connections() == 1);
    CHECK(metric_eventually(ward.metrics_port(), "ward_connections_refused_total{listener=\"edge\",protocol=\"tls\",reason=\"listener_limit\"}", 1) == 1);
    // The first one still works.
    CHECK(first.send("b"));
    CHECK(first.read(1) == "b");
}

TEST_CASE("engine: a peer whose subject is not selected is refused in the handshake and the backend sees nothing") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint()))));
    auto other = s.pki.issue("other", TestPki::client_spec("other.test"));
    PeerOptions o;
    o.cert = other.cert;
    o.key = other.key;
    o.trust_ca = s.pki.ca().cert;
    auto ctx = make_peer_ctx(o);
    TlsClient client(ward.port("edge"), ctx.get());
    // TLS 1.3: the client's handshake may return before the server has refused; then the
    // alert arrives as the first read.
    if (client.ok()) {
        client.send("GET / HTTP/1.0\r\n\r\n");
        CHECK(client.wait_closed());
    }
    CHECK(backend.connections() == 0);
    CHECK(backend.received().empty());
    CHECK(metric_eventually(ward.metrics_port(), "ward_handshakes_total{listener=\"edge\",protocol=\"tls\",result=\"peer_refused\"}", 1) == 1);
}

TEST_CASE("engine: backends are tried in order and an unreachable set closes the client") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    test::RefusingPort refusing;
    const auto dead = refusing.endpoint();
    RunningWard ward(s.write(s.config(
        "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" + dead + "', '" + backend.endpoint() +
        "'], tls_context: in }\n"
        "  - { name: nowhere, protocol: tls, bind: '127.0.0.1:0', backends: ['" + dead + "'], tls_context: in }\n")));
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("edge"), ctx.get());
    REQUIRE(client.ok());
    CHECK(client.send("x"));
    CHECK(client.read(1) == "x");

    TlsClient lost(ward.port("nowhere"), ctx.get());
    REQUIRE(lost.ok());
    CHECK(lost.wait_closed());
    CHECK(metric_eventually(ward.metrics_port(), "ward_backend_failures_total{listener=\"nowhere\",protocol=\"tls\"}", 1) == 1);
}

TEST_CASE("engine: a backend whose TCP handshake never completes is given up at connect_timeout - the next one serves") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    // A listener that never accepts, its queue (one connection) filled: the kernel drops the
    // SYNs that come after, so ward's connect stays in progress (its wait path, not the
    // loopback one that has completed by the time connect() returns).
    const int full = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(full >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(full, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(full, 0) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(full, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    const auto silent = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    const int queued = connect_tcp(ntohs(a.sin_port));
    REQUIRE(queued >= 0);
    RunningWard ward(s.write(s.config("  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" + silent +
                                      "', '" + backend.endpoint() +
                                      "'], tls_context: in, limits: { connect_timeout: 300ms } }\n")));
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("edge"), ctx.get());
    REQUIRE(client.ok());
    const auto begin = std::chrono::steady_clock::now();
    CHECK(client.send("x"));
    CHECK(client.read(1) == "x");
    CHECK(std::chrono::steady_clock::now() - begin >= std::chrono::milliseconds(250));
    CHECK(backend.connections() == 1);
    ::close(queued);
    ::close(full);
}

TEST_CASE("engine: an idle session is closed at idle_timeout") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint(), ", limits: { idle_timeout: 300ms }"))));
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("edge"), ctx.get());
    REQUIRE(client.ok());
    CHECK(client.send("x"));
    CHECK(client.read(1) == "x");
    const auto begin = std::chrono::steady_clock::now();
    CHECK(client.wait_closed(std::chrono::seconds(10)));
    CHECK(std::chrono::steady_clock::now() - begin >= std::chrono::milliseconds(250));
}

TEST_CASE("engine: reload under traffic keeps established sessions and gives new ones the new ciphers") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    const auto listeners = tls_listener(backend.endpoint());
    const auto file = s.write(s.config(listeners, "    ciphers: [TLS_AES_256_GCM_SHA384]\n"));
    RunningWard ward(file);
    auto ctx = s.client_ctx();
    TlsClient before(ward.port("edge"), ctx.get());
    REQUIRE(before.ok());
    CHECK(std::string(SSL_get_cipher_name(before.ssl())) == "TLS_AES_256_GCM_SHA384");

    // A broken configuration changes nothing.
    write_text_file(file, s.config(listeners, "    ciphers: [TLS_NOT_A_CIPHER]\n"));
    CHECK_FALSE(ward.reload());
    {
        TlsClient again(ward.port("edge"), ctx.get());
        REQUIRE(again.ok());
        CHECK(std::string(SSL_get_cipher_name(again.ssl())) == "TLS_AES_256_GCM_SHA384");
    }

    write_text_file(file, s.config(listeners, "    ciphers: [TLS_AES_128_GCM_SHA256]\n"));
    CHECK(ward.reload());
    TlsClient after(ward.port("edge"), ctx.get());
    REQUIRE(after.ok());
    CHECK(std::string(SSL_get_cipher_name(after.ssl())) == "TLS_AES_128_GCM_SHA256");

    // The session made before both reloads still relays.
    CHECK(before.send("still here"));
    CHECK(before.read(10) == "still here");
    CHECK(after.send("new"));
    CHECK(after.read(3) == "new");
}

TEST_CASE("engine: reload opens added listeners and closes removed ones") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    const auto file = s.write(s.config(tls_listener(backend.endpoint())));
    RunningWard ward(file);
    const auto old_port = ward.port("edge");
    write_text_file(file, s.config("  - { name: second, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                                   backend.endpoint() + "'], tls_context: in }\n"));
    REQUIRE(ward.reload());
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("second"), ctx.get());
    REQUIRE(client.ok());
    CHECK(client.send("y"));
    CHECK(client.read(1) == "y");
    CHECK(connect_tcp(old_port) < 0);  // closed
}


TEST_CASE("engine: tls-outbound originates TLS with the client certificate and checks the server's subject") {
    EngineSetup s;
    PeerOptions o;
    o.cert = s.pki.server().cert;
    o.key = s.pki.server().key;
    o.trust_ca = s.pki.ca().cert;  // asks for and verifies ward's client certificate
    auto server_ctx = make_peer_server_ctx(o);
    TlsEchoServer remote(server_ctx.get());
    const auto remote_ep = "127.0.0.1:" + std::to_string(remote.port());
    RunningWard ward(s.write(s.config(
        "  - { name: up, protocol: tls-outbound, bind: '127.0.0.1:0', backends: ['" + remote_ep +
        "'], tls_context: out }\n"
        "  - { name: wrong, protocol: tls-outbound, bind: '127.0.0.1:0', backends: ['" + remote_ep +
        "'], tls_context: in }\n")));

    const int fd = connect_tcp(ward.port("up"));
    REQUIRE(fd >= 0);
    CHECK(::send(fd, "over tls", 8, 0) == 8);
    char buf[16] = {};
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(::recv(fd, buf, 8, MSG_WAITALL) == 8);
    CHECK(std::string(buf, 8) == "over tls");
    ::close(fd);

    // Context "in" selects client.test only: the remote presents server.test and is refused.
    const int refused = connect_tcp(ward.port("wrong"));
    REQUIRE(refused >= 0);
    CHECK(wait_closed(refused, std::chrono::seconds(10)));
    ::close(refused);
    CHECK(metric_eventually(ward.metrics_port(), "ward_handshakes_total{listener=\"wrong\",protocol=\"tls-outbound\",result=\"peer_refused\"}", 1) == 1);
}

TEST_CASE("engine: a burst larger than the relay buffer already waiting in the socket is relayed whole") {
    // Edge-triggered readiness: ward must drain what is already buffered, not wait for an edge
    // that never comes once the sender has nothing more to send.
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint()))));
    auto ctx = s.client_ctx();
    TlsClient client(ward.port("edge"), ctx.get());
    REQUIRE(client.ok());
    std::string burst(300 * 1024, 'b');
    for (std::size_t i = 0; i < burst.size(); i += 997) burst[i] = static_cast<char>('a' + i % 26);
    REQUIRE(client.send(burst));
    CHECK(client.read(burst.size(), std::chrono::seconds(10)) == burst);
}

TEST_CASE("engine: a second ward cannot silently share a port that another process listens on") {
    // SO_REUSEPORT lets sockets share a port; ward probes without it first, so a port held by
    // someone else is "in use" instead of a quiet split of the traffic.
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard first(s.write(s.config(tls_listener(backend.endpoint()))));
    const auto port = first.port("edge");
    TempDir other{"engine-second"};
    const auto file = other.path() / "ward.yaml";
    auto yaml = s.config("  - { name: edge, protocol: tls, bind: '127.0.0.1:" + std::to_string(port) +
                         "', backends: ['" + backend.endpoint() + "'], tls_context: in }\n");
    // Same PKI files, by absolute path.
    for (const char* f : {"server.pem", "server.key"})
        yaml.replace(yaml.find(f), std::string(f).size(), (s.dir.path() / f).string());
    yaml.replace(yaml.find("dir: trust"), 10, "dir: " + (s.dir.path() / "trust").string());
    write_text_file(file, yaml);
    config::Diagnostics diagnostics(file.string());
    auto snapshot = proxy::build_snapshot(file, diagnostics);
    INFO(diagnostics.to_string());
    REQUIRE(snapshot);
    proxy::Server second(file);
    CHECK_FALSE(second.start(snapshot));
    // The first one still has all the traffic.
    auto ctx = s.client_ctx();
    TlsClient client(port, ctx.get());
    REQUIRE(client.ok());
    CHECK(client.send("mine"));
    CHECK(client.read(4) == "mine");
}

TEST_CASE("engine: outbound SNI carries the configured DNS name and never an address") {
    EngineSetup s;
    PeerOptions o;
    o.cert = s.pki.server().cert;
    o.key = s.pki.server().key;
    o.trust_ca = s.pki.ca().cert;
    auto server_ctx = make_peer_server_ctx(o);
    // What each ClientHello named (the callback runs on the echo server's thread).
    struct Seen {
        std::mutex mutex;
        std::vector<std::string> names;
    } seen;
    // The certificate callback runs once per ClientHello, after its extensions, in both
    // libraries; the server name is what the ClientHello named.
    SSL_CTX_set_cert_cb(
        server_ctx.get(),
        [](SSL* ssl, void* arg) {
            const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            auto* out = static_cast<Seen*>(arg);
            std::lock_guard lock(out->mutex);
            out->names.push_back(sni ? sni : "(none)");
            return 1;
        },
        &seen);
    TlsEchoServer remote(server_ctx.get());
    TlsEchoServer remote6(server_ctx.get(), /*ipv6=*/true);
    const auto port = std::to_string(remote.port());
    RunningWard ward(s.write(s.config(
        "  - { name: by-address, protocol: tls-outbound, bind: '127.0.0.1:0', backends: ['127.0.0.1:" + port +
        "'], tls_context: out }\n"
        "  - { name: by-v6-address, protocol: tls-outbound, bind: '127.0.0.1:0', backends: ['[::1]:" +
        std::to_string(remote6.port()) + "'], tls_context: out }\n"
        "  - { name: by-name, protocol: tls-outbound, bind: '127.0.0.1:0', backends: ['localhost:" + port +
        "'], tls_context: out }\n")));

    for (const char* listener : {"by-address", "by-v6-address", "by-name"}) {
        CAPTURE(listener);
        const int fd = connect_tcp(ward.port(listener));
        REQUIRE(fd >= 0);
        REQUIRE(send_raw(fd, "ping"));
        CHECK(read_raw_until(fd, "ping") == "ping");
        ::close(fd);
    }
    std::lock_guard lock(seen.mutex);
    CHECK(seen.names == std::vector<std::string>{"(none)", "(none)", "localhost"});
}

TEST_CASE("engine: relayed bytes counted per worker add up on /metrics") {
    EngineSetup s;
    TcpBackend backend(TcpBackend::Mode::echo);
    RunningWard ward(s.write(s.config(tls_listener(backend.endpoint()))));  // two workers
    auto ctx = s.client_ctx();
    constexpr int kClients = 8;
    const std::string payload(1000, 'x');
    for (int i = 0; i < kClients; ++i) {
        TlsClient client(ward.port("edge"), ctx.get());
        REQUIRE_MESSAGE(client.ok(), client.error());
        REQUIRE(client.send(payload));
        CHECK(client.read(payload.size()) == payload);
        client.shutdown();
        CHECK(client.wait_closed());
    }
    const std::string series = "ward_bytes_total{listener=\"edge\",protocol=\"tls\",direction=";
    CHECK(metric_eventually(ward.metrics_port(), series + "\"from_client\"}", kClients * 1000) == kClients * 1000);
    CHECK(metric_eventually(ward.metrics_port(), series + "\"to_client\"}", kClients * 1000) == kClients * 1000);
}
