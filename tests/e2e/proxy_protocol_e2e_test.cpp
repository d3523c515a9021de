// SPDX-License-Identifier: Apache-2.0
// The PROXY protocol version 2 against independent ends: a reference decoder written from the
// specification alone (tests/e2e/proxy/pp2_receiver.py) and HAProxy, as the receiver behind
// ward (`proxy_protocol: v2`) and as the load balancer in front of it (`send-proxy-v2` into a
// listener with `accept_proxy_protocol`).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <regex>
#include <string>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundProcess;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

const fs::path kReceiver = fs::path(WARD_SOURCE_DIR) / "tests/e2e/proxy/pp2_receiver.py";

struct Setup {
    TempDir dir{"e2e-proxy"};
    TestPki pki{dir.path() / "pki"};
    ward::test::CertFiles client = pki.issue("client", TestPki::client_spec("client.test"));

    fs::path config(const std::string& backend, const std::string& extra) const {
        return ward::e2e::write_config(
            dir.path(), ward::e2e::pki_sections({"client.test"}) +
                            "tls_contexts:\n"
                            "  in: { certificate: server, trust_store: peers, peer_subjects: [client.test], "
                            "verify_peer: optional }\n"
                            "metrics: { enabled: false }\n"
                            "listeners:\n"
                            "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                                backend + "'], tls_context: in, proxy_protocol: v2" + extra + " }\n");
    }

    ward::tls::UniqueSslCtx client_ctx() const {
        ward::test::PeerOptions o;
        o.cert = client.cert;
        o.key = client.key;
        o.trust_ca = pki.ca().cert;
        return ward::test::make_peer_ctx(o);
    }
};

// The reference receiver, started on a port of its own choosing.
struct Receiver {
    BackgroundProcess process{{"/usr/bin/python3", kReceiver.string()}};
    std::uint16_t port = 0;
    Receiver() {
        REQUIRE_MESSAGE(process.started(), process.error());
        auto m = process.wait_for_output(std::regex("listening ([0-9]+)"), 10s);
        REQUIRE_MESSAGE(m, process.describe());
        port = static_cast<std::uint16_t>(std::stoi(m->groups[1]));
    }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port); }
};

struct Haproxy {
    std::uint16_t port = ward::test::reserve_port();
    std::unique_ptr<BackgroundProcess> process;
    // `body`: the proxy sections, "@BIND@" standing for 127.0.0.1:port.
    Haproxy(const fs::path& dir, std::string body) {
        const auto file = dir / "haproxy.cfg";
        for (auto at = body.find("@BIND@"); at != std::string::npos; at = body.find("@BIND@"))
            body.replace(at, 6, bind());
        ward::test::write_text_file(file,
                                    "global\n  maxconn 64\n"
                                    "defaults\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n" +
                                        body);
        process = std::make_unique<BackgroundProcess>(std::vector<std::string>{"haproxy", "-db", "-f", file.string()});
        REQUIRE_MESSAGE(process->started(), process->error());
        REQUIRE_MESSAGE(ward::test::wait_for_port(port), process->describe());
    }
    std::string bind() const { return "127.0.0.1:" + std::to_string(port); }
};

std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

// What a client sends through ward and reads back (until the receiver closes).
std::string exchange(ward::test::TlsClient& client, const std::string& request) {
    REQUIRE(client.send(request));
    std::string got;
    client.wait_closed(10s, &got);
    return got;
}

std::string field(const std::string& key, const std::string& value) { return "\"" + key + "\": \"" + value + "\""; }

}  // namespace

TEST_CASE("e2e proxy protocol: the reference decoder reads the client's address and TLS details from ward's header") {
    Setup s;
    Receiver receiver;
    WardProcess ward(s.config(receiver.endpoint(), ""));
    auto ctx = s.client_ctx();
    ward::test::TlsClient client(ward.port("edge"), ctx.get(), "server.test");
    REQUIRE_MESSAGE(client.ok(), client.error());
    const auto answer = exchange(client, "hello from the client\n");
    INFO(answer);
    CHECK_FALSE(contains(answer, "\"error\""));
    CHECK(contains(answer, field("command", "PROXY")));
    CHECK(contains(answer, field("src", "127.0.0.1:" + std::to_string(local_port(client.fd())))));
    CHECK(contains(answer, field("dst", "127.0.0.1:" + std::to_string(ward.port("edge")))));
    CHECK(contains(answer, field("authority", "server.test")));
    CHECK(contains(answer, field("crc32c", "ok")));
    CHECK(contains(answer, "\"client\": 7"));  // SSL, certificate on this connection and in the session
    CHECK(contains(answer, "\"verify\": 0"));
    CHECK(contains(answer, field("cn", "client.test")));
    CHECK(contains(answer, field("version", SSL_get_version(client.ssl()))));
    CHECK(contains(answer, field("cipher", SSL_get_cipher_name(client.ssl()))));
    CHECK(contains(answer, field("first_line", "hello from the client")));
}

TEST_CASE("e2e proxy protocol: HAProxy with accept-proxy sees the client behind ward") {
    Setup s;
    Haproxy haproxy(s.dir.path(),
                    "frontend behind\n  mode http\n  bind @BIND@ accept-proxy\n"
                    "  http-request return status 200 content-type text/plain lf-string "
                    "\"src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority]\"\n");
    WardProcess ward(s.config(haproxy.bind(), ""));
    auto ctx = s.client_ctx();
    ward::test::TlsClient client(ward.port("edge"), ctx.get(), "server.test");
    REQUIRE_MESSAGE(client.ok(), client.error());
    const auto answer = exchange(client, "GET / HTTP/1.1\r\nHost: server.test\r\nConnection: close\r\n\r\n");
    INFO(answer);
    CHECK(contains(answer, "HTTP/1.1 200"));
    CHECK(contains(answer, "src=127.0.0.1:" + std::to_string(local_port(client.fd())) +
                               " dst=127.0.0.1:" + std::to_string(ward.port("edge")) + " authority=server.test"));
}

TEST_CASE("e2e proxy protocol: behind HAProxy's send-proxy-v2 ward passes the real client on - and only from it") {
    Setup s;
    Receiver receiver;
    // ward trusts only 127.0.0.1 (HAProxy); the client reaches ward through HAProxy in TCP mode.
    WardProcess ward(s.config(receiver.endpoint(), ", accept_proxy_protocol: ['127.0.0.1']"));
    Haproxy haproxy(s.dir.path(), "listen front\n  mode tcp\n  bind @BIND@\n  server ward 127.0.0.1:" +
                                      std::to_string(ward.port("edge")) + " send-proxy-v2\n");
    auto ctx = s.client_ctx();
    {
        ward::test::TlsClient client(haproxy.port, ctx.get(), "server.test");
        REQUIRE_MESSAGE(client.ok(), client.error());
        const auto answer = exchange(client, "through the balancer\n");
        INFO(answer);
        CHECK(contains(answer, field("src", "127.0.0.1:" + std::to_string(local_port(client.fd())))));
        CHECK(contains(answer, field("dst", haproxy.bind())));
        CHECK(contains(answer, field("cn", "client.test")));
        CHECK(contains(answer, field("first_line", "through the balancer")));
    }
    // The session's line names the client, and the balancer it came through.
    CHECK(ward.wait_for_log(std::regex("edge 127\\.0\\.0\\.1:[0-9]+ -> .* via=127\\.0\\.0\\.1:[0-9]+")));

    // A client that skips the balancer (from the same, trusted, address) has no header: refused.
    ward::test::TlsClient direct(ward.port("edge"), ctx.get(), "server.test", 5s);
    CHECK_FALSE(direct.ok());
    CHECK(ward.wait_for_log("PROXY header refused: no PROXY protocol version 2 header"));
}

TEST_CASE("e2e proxy protocol: nginx's stream module with proxy_protocol reads the client behind ward") {
    Setup s;
    const auto port = ward::test::reserve_port();
    const auto conf = s.dir.path() / "nginx.conf";
    ward::test::write_text_file(
        conf, "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
              "daemon off;\nworker_processes 1;\npid " + (s.dir.path() / "nginx.pid").string() + ";\n"
              "error_log " + (s.dir.path() / "nginx-error.log").string() + " info;\n"
              "events { worker_connections 64; }\n"
              "stream {\n  server {\n    listen 127.0.0.1:" + std::to_string(port) + " proxy_protocol;\n"
              "    return \"src=$proxy_protocol_addr:$proxy_protocol_port "
              "dst=$proxy_protocol_server_addr:$proxy_protocol_server_port\\n\";\n  }\n}\n");
    BackgroundProcess nginx({"nginx", "-c", conf.string(), "-p", s.dir.path().string(), "-e",
                             (s.dir.path() / "nginx-error.log").string()});
    REQUIRE_MESSAGE(ward::test::wait_for_port(port), nginx.describe() << ward::test::read_text_file(s.dir.path() / "nginx-error.log"));
    WardProcess ward(s.config("127.0.0.1:" + std::to_string(port), ""));
    auto ctx = s.client_ctx();
    ward::test::TlsClient client(ward.port("edge"), ctx.get(), "server.test");
    REQUIRE_MESSAGE(client.ok(), client.error());
    const auto answer = exchange(client, "");
    INFO(answer);
    CHECK(answer == "src=127.0.0.1:" + std::to_string(local_port(client.fd())) +
                        " dst=127.0.0.1:" + std::to_string(ward.port("edge")) + "\n");
}

TEST_CASE("e2e proxy protocol: Kamailio with tcp_accept_haproxy sees the SIP client behind ward's sip listener") {
    Setup s;
    const auto port = ward::test::reserve_port();
    const auto cfg = s.dir.path() / "kamailio.cfg";
    ward::test::write_text_file(
        cfg, "#!KAMAILIO\n"
             "debug=2\nlog_stderror=yes\nchildren=1\ntcp_children=1\ndisable_sctp=yes\nauto_aliases=no\n"
             "listen=tcp:127.0.0.1:" + std::to_string(port) + "\n"
             "tcp_accept_haproxy=yes\n"
             "mpath=\"/usr/lib/x86_64-linux-gnu/kamailio/modules/\"\n"
             "loadmodule \"sl.so\"\nloadmodule \"textops.so\"\nloadmodule \"pv.so\"\n"
             "request_route {\n"
             "    append_to_reply(\"X-Seen-Source: $si:$sp\\r\\nX-Seen-Identity: $hdr(X-Ward-TLS-Peer)\\r\\n\");\n"
             "    sl_send_reply(\"200\", \"OK\");\n"
             "    exit;\n}\n");
    BackgroundProcess kamailio({"kamailio", "-f", cfg.string(), "-DD", "-E", "-m", "32", "-M", "8", "-Y",
                                s.dir.path().string(), "-P", (s.dir.path() / "kamailio.pid").string()});
    REQUIRE_MESSAGE(ward::test::wait_for_port(port), kamailio.describe());
    const auto file = ward::e2e::write_config(
        s.dir.path(), ward::e2e::pki_sections({"client.test"}) +
                          "tls_contexts:\n"
                          "  in: { certificate: server, trust_store: peers, peer_subjects: [client.test] }\n"
                          "metrics: { enabled: false }\n"
                          "listeners:\n"
                          "  - { name: edge, protocol: sip, bind: '127.0.0.1:0', backends: ['127.0.0.1:" +
                              std::to_string(port) + "'], tls_context: in, proxy_protocol: v2 }\n");
    WardProcess ward(file);
    auto ctx = s.client_ctx();
    ward::test::TlsClient client(ward.port("edge"), ctx.get(), "server.test");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("OPTIONS sip:ward.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK-pp2\r\n"
                        "Max-Forwards: 70\r\nFrom: <sip:a@ward.test>;tag=1\r\nTo: <sip:ward.test>\r\n"
                        "Call-ID: pp2@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"));
    const auto answer = client.read_until("\r\n\r\n", 20s);
    INFO(answer << kamailio.describe());
    CHECK(contains(answer, "SIP/2.0 200 OK"));
    // $sp is the client's port from ward's header (not ward's own connection to Kamailio).
    // Kamailio 5.6.3 (Debian 12) reads the version 2 header's ports in host byte order
    // (reported upstream as kamailio/kamailio#3683): there it arrives byte-swapped.
    const auto client_port = local_port(client.fd());
    const auto swapped = static_cast<std::uint16_t>((client_port >> 8) | (client_port << 8));
    CHECK((contains(answer, "X-Seen-Source: 127.0.0.1:" + std::to_string(client_port) + "\r\n") ||
           contains(answer, "X-Seen-Source: 127.0.0.1:" + std::to_string(swapped) + "\r\n")));
    CHECK(contains(answer, "X-Seen-Identity: client.test;listener=edge;context=in"));
}
