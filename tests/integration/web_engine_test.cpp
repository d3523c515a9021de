// SPDX-License-Identifier: Apache-2.0
// The xmpp-web listener through the engine, over real HTTPS on loopback, in front of a stub
// backend (a capturing TCP server the test answers for): what the backend receives and what the
// client receives for BOSH requests, pipelining, a WebSocket upgrade and its frames, smuggling
// and size refusals, Origin and path refusals, client certificates, and the web-client secure
// mode switched off by a reload.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"
#include "xmpp/web/websocket.hpp"

using namespace ward;
using namespace ward::test;
namespace web = ward::xmpp::web;
namespace fs = std::filesystem;

namespace {

std::string config_text(const std::string& backend, bool secure, const std::string& verify, const std::string& web_extra,
                        const std::string& limits = "", const std::string& bind = "127.0.0.1:0") {
    return std::string("certificates: { server: { cert: server.pem, key: server.key } }\n"
                       "trust_stores: { trust: { dir: trust } }\n"
                       "tls_peer_subjects: [ { subject: browser.example } ]\n"
                       "tls_contexts:\n"
                       "  web-ctx: { certificate: server, trust_store: trust, verify_peer: ") +
           verify +
           " }\n"
           "security: { xmpp: { web_client_secure: " +
           (secure ? "true" : "false") +
           " } }\n"
           "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
           "workers: 1\n"
           "listeners:\n"
           "  - name: web\n    protocol: xmpp-web\n    bind: '" + bind + "'\n"
           "    backends: ['" +
           backend + "']\n    tls_context: web-ctx\n" + limits +
           "    xmpp:\n      domains: [chat.example]\n      web: { allowed_origins: ['https://app.example'], "
           "request_timeout: 2s" +
           web_extra + " }\n";
}

struct WebSetup {
    TempDir dir{"web-engine"};
    TestPki pki{dir.path()};
    TcpBackend backend{TcpBackend::Mode::capture};
    fs::path file = dir.path() / "ward.yaml";
    std::unique_ptr<RunningWard> ward;
    tls::UniqueSslCtx ctx;

    explicit WebSetup(bool secure = true, const std::string& verify = "optional", const std::string& web_extra = "",
                      const std::string& limits = "", const std::string& bind = "127.0.0.1:0") {
        write_text_file(file, config_text(backend.endpoint(), secure, verify, web_extra, limits, bind));
        ward = std::make_unique<RunningWard>(file);
        PeerOptions o;
        o.trust_ca = pki.ca().cert;
        ctx = make_peer_ctx(o);
    }

    std::uint16_t port() const { return ward->port("web"); }

    std::unique_ptr<TlsClient> connect(SSL_CTX* with = nullptr) {
        auto c = std::make_unique<TlsClient>(port(), with ? with : ctx.get());
        REQUIRE_MESSAGE(c->ok(), c->error());
        return c;
    }

    // What the backend received once it holds `needle`.
    std::string backend_until(const std::string& needle, int occurrences = 1) {
        auto count = [&] {
            const auto text = backend.received();
            int n = 0;
            for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
            return n >= occurrences;
        };
        CHECK(backend.wait_until(count));
        return backend.received();
    }

    std::uint64_t metric(const std::string& series) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            const auto text = fetch_metrics(ward->metrics_port());
            const auto pos = text.find(series + " ");
            const std::uint64_t got = pos == std::string::npos ? 0 : std::stoull(text.substr(pos + series.size() + 1));
            if (got > 0 || std::chrono::steady_clock::now() >= until) return got;
            std::this_thread::yield();
        }
    }
};

const std::string kBoshBody = "<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='chat.example' wait='60' hold='1'/>";

std::string bosh_request(const std::string& body = kBoshBody, const std::string& extra = "") {
    return "POST /http-bind HTTP/1.1\r\nHost: chat.example\r\nContent-Type: text/xml\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string ok_response(const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n" + extra + "Content-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

const std::string kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string upgrade_request(const std::string& origin = "https://app.example") {
    return "GET /xmpp-websocket HTTP/1.1\r\nHost: chat.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
           kKey + "\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" +
           (origin.empty() ? "" : "Origin: " + origin + "\r\n") + "\r\n";
}

const std::string kSwitching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n";

// Decodes frames from `bytes` (server frames unless `from_client`), one line per event.
std::vector<std::string> frames(const std::string& bytes, bool from_client) {
    web::WsReader reader(from_client, 1 << 20);
    std::vector<std::string> out;
    for (auto& e : reader.feed(bytes)) {
        switch (e.kind) {
            case web::WsEvent::Kind::message: out.push_back("text " + e.payload); break;
            case web::WsEvent::Kind::ping: out.push_back("ping " + e.payload); break;
            case web::WsEvent::Kind::pong: out.push_back("pong " + e.payload); break;
            case web::WsEvent::Kind::close: out.push_back("close " + std::to_string(e.code)); break;
            case web::WsEvent::Kind::error: out.push_back("error " + std::to_string(e.code)); break;
        }
    }
    return out;
}

// Reads from the client until the frames decoded from what arrived number `n` (or it closed).
std::vector<std::string> client_frames(TlsClient& c, std::size_t n, std::string& got) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        auto f = frames(got, false);
        if (f.size() >= n || std::chrono::steady_clock::now() >= until) return f;
        const auto more = c.read(got.size() + 1, std::chrono::milliseconds(500));
        if (more.empty() && c.wait_closed(std::chrono::milliseconds(1), &got)) return frames(got, false);
        got += more;
    }
}

}  // namespace

TEST_CASE("web listener: a BOSH request reaches the backend with forwarding fields and keep-alive requests pipeline in order") {
    WebSetup s;
    auto c = s.connect();
    const auto second = "<body xmlns='http://jabber.org/protocol/httpbind' rid='2' sid='abc'/>";
    REQUIRE(c->send(bosh_request(kBoshBody, "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: http\r\nForwarded: for=evil\r\n") +
                    bosh_request(second)));
    auto got = s.backend_until("hold='1'/>");
    // Only the first: the second waits for the first's answer.
    CHECK(got.find("rid='2'") == std::string::npos);
    CHECK(got.find("X-Forwarded-For: 10.9.9.9, 127.0.0.1\r\n") != std::string::npos);
    CHECK(got.find("X-Forwarded-Proto: https\r\n") != std::string::npos);
    CHECK(got.find("X-Forwarded-Proto: http\r\n") == std::string::npos);
    CHECK(got.find("Forwarded: for=evil") == std::string::npos);
    const std::string created = "<body xmlns='http://jabber.org/protocol/httpbind' sid='abc' wait='60' requests='2'/>";
    REQUIRE(s.backend.send(ok_response(created)));
    auto first = c->read_until(created);
    CHECK(first.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(first.find("Connection: keep-alive\r\n") != std::string::npos);
    got = s.backend_until("rid='2'");
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind'/>")));
    CHECK(c->read_until("httpbind'/>").find("200 OK") != std::string::npos);
    CHECK(s.backend.connections() == 1);
    CHECK(s.metric("ward_web_events_total{listener=\"web\",protocol=\"xmpp-web\",event=\"bosh_session\"}") == 1);
}

TEST_CASE("web listener: a long poll outlasts the idle timeout and a silent backend gets 504") {
    WebSetup s(true, "optional", "", "    limits: { idle_timeout: 300ms }\n");
    auto c = s.connect();
    REQUIRE(c->send(bosh_request()));
    s.backend_until("hold='1'/>");
    // Held well past the idle timeout, ward keeps the client (a wait on the socket, not a sleep).
    std::string early;
    CHECK_FALSE(c->wait_closed(std::chrono::milliseconds(1200), &early));
    CHECK(early.empty());
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind' sid='x' wait='1'/>")));
    CHECK(c->read_until("wait='1'/>").find("200 OK") != std::string::npos);
    // A WebSocket upgrade the backend never answers: 504 after the request timeout (2s).
    auto d = s.connect();
    REQUIRE(d->send(upgrade_request()));
    const auto answer = d->read_until("\r\n\r\n", std::chrono::seconds(6));
    CHECK(answer.rfind("HTTP/1.1 504", 0) == 0);
    CHECK(d->wait_closed());
}

TEST_CASE("web listener: smuggling and size limits are refused before anything reaches the backend") {
    WebSetup s(true, "optional", ", max_body_size: 1KiB, max_header_size: 2KiB");
    struct Case {
        std::string request;
        std::string status;
    };
    const std::vector<Case> cases = {
        {"POST /http-bind HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "400"},
        {"POST /http-bind HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", "400"},
        {"POST /http-bind HTTP/1.1\r\nHost: chat.example\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n", "400"},
        {"POST /http-bind HTTP/1.1\r\nHost: chat.example\rContent-Length: 0\r\n\r\n", "400"},
        {bosh_request(std::string(2000, ' ') + kBoshBody), "413"},
        {"GET /http-bind HTTP/1.1\r\nHost: chat.example\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n", "431"},
        {bosh_request("<body xmlns='urn:not-bosh'/>"), "400"},
        {bosh_request("<!DOCTYPE b [<!ENTITY x 'y'>]><body xmlns='http://jabber.org/protocol/httpbind'>&x;</body>"), "400"},
        {"GET /admin HTTP/1.1\r\nHost: chat.example\r\n\r\n", "404"},
        {bosh_request(kBoshBody, "X_Forwarded_For: 198.51.100.66\r\n"), "400"},
        {"POST /http-bind HTTP/1.1\r\nHost: chat.example\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string("60\r\n") +  // (kBoshBody is 0x60 bytes)
             kBoshBody + "\r\n0\r\nHost: evil.example\r\n\r\n",
         "400"},
        // Expect: 100-continue is answered only for what would be forwarded.
        {"POST /admin HTTP/1.1\r\nHost: chat.example\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", "404"},
        {"GET /http-bind HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 3\r\n\r\nabc", "400"},
        {"GET /http-bind HTTP/1.1\r\nHost: other.example\r\n\r\n", "421"},
        {upgrade_request("https://evil.example"), "403"},
        {upgrade_request("https://app.example").replace(upgrade_request().find("Protocol: xmpp"), 14, "Protocol: chat"), "400"},
    };
    for (const auto& test : cases) {
        INFO(test.request.substr(0, 80));
        auto c = s.connect();
        REQUIRE(c->send(test.request));
        const auto answer = c->read_until("\r\n\r\n");
        CHECK(answer.rfind("HTTP/1.1 " + test.status, 0) == 0);
    }
    CHECK(kBoshBody.size() == 0x60);
    CHECK(s.backend.connections() == 0);
    CHECK(s.backend.received().empty());
    CHECK(s.metric("ward_web_refusals_total{listener=\"web\",protocol=\"xmpp-web\",reason=\"origin\"}") == 1);
    CHECK(s.metric("ward_web_refusals_total{listener=\"web\",protocol=\"xmpp-web\",reason=\"too_large\"}") == 2);
}

TEST_CASE("web listener: a WebSocket is relayed frame by frame with pings answered and STARTTLS refused") {
    WebSetup s;
    auto c = s.connect();
    REQUIRE(c->send(upgrade_request()));
    auto got = s.backend_until("\r\n\r\n");
    CHECK(got.find("Sec-WebSocket-Protocol: xmpp\r\n") != std::string::npos);
    CHECK(got.find("permessage-deflate") == std::string::npos);
    CHECK(got.find("X-Forwarded-Proto: https\r\n") != std::string::npos);
    REQUIRE(s.backend.send(kSwitching));
    const auto head = c->read_until("\r\n\r\n");
    CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
    CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
    const std::string open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='chat.example' version='1.0'/>";
    // A message in two fragments, a ping between them: the backend gets one frame, masked.
    auto part1 = web::ws_frame(web::Opcode::text, open.substr(0, 20), true);
    part1[0] = static_cast<char>(part1[0] & 0x7f);
    REQUIRE(c->send(part1 + web::ws_frame(web::Opcode::ping, "hi", true) +
                    web::ws_frame(web::Opcode::continuation, open.substr(20), true)));
    std::string from_client;
    CHECK(s.backend.wait_until([&] { return frames(s.backend.received().substr(got.size()), true).size() == 1; }));
    CHECK(frames(s.backend.received().substr(got.size()), true) == std::vector<std::string>{"text " + open});
    std::string at_client;
    CHECK(client_frames(*c, 1, at_client) == std::vector<std::string>{"pong hi"});
    REQUIRE(s.backend.send(web::ws_frame(web::Opcode::text, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", false)));
    CHECK(client_frames(*c, 2, at_client).back() == "text <open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    // STARTTLS over WebSocket: a stream error, <close/>, close 1008 to the client; 1001 to the backend.
    const auto before = s.backend.received().size();
    REQUIRE(c->send(web::ws_frame(web::Opcode::text, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", true)));
    const auto f = client_frames(*c, 5, at_client);
    REQUIRE(f.size() == 5);
    CHECK(f[2].find("<policy-violation") != std::string::npos);
    CHECK(f[3] == "text <close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    CHECK(f[4] == "close 1008");
    CHECK(s.backend.wait_until([&] { return !frames(s.backend.received().substr(before), true).empty(); }));
    CHECK(frames(s.backend.received().substr(before), true) == std::vector<std::string>{"close 1001"});
    CHECK(s.backend.received().find("starttls") == std::string::npos);
    CHECK(c->wait_closed());
    CHECK(s.metric("ward_web_events_total{listener=\"web\",protocol=\"xmpp-web\",event=\"upgrade\"}") == 1);
    CHECK(s.metric("ward_web_refusals_total{listener=\"web\",protocol=\"xmpp-web\",reason=\"framing\"}") == 1);
}

TEST_CASE("web listener: close codes pass both ways and an oversized message closes with 1009") {
    WebSetup s(true, "optional", ", max_message_size: 1KiB");
    auto c = s.connect();
    REQUIRE(c->send(upgrade_request("")));  // no Origin: not a browser
    s.backend_until("\r\n\r\n");
    REQUIRE(s.backend.send(kSwitching));
    c->read_until("\r\n\r\n");
    REQUIRE(c->send(web::ws_frame(web::Opcode::text, "<a xmlns='jabber:client'>" + std::string(1100, 'x') + "</a>", true)));
    std::string at_client;
    CHECK(client_frames(*c, 1, at_client) == std::vector<std::string>{"close 1009"});
    CHECK(c->wait_closed());

    auto d = s.connect();
    REQUIRE(d->send(upgrade_request("")));
    REQUIRE(s.backend.wait_until([&] { return s.backend.connections() == 2; }));
    s.backend_until("GET /xmpp-websocket", 2);
    REQUIRE(s.backend.send(kSwitching));
    d->read_until("\r\n\r\n");
    REQUIRE(s.backend.send(web::ws_close(4001, "going", false)));
    std::string at_d;
    CHECK(client_frames(*d, 1, at_d) == std::vector<std::string>{"close 4001"});
}

TEST_CASE("web listener: secure mode sends plain HTTP a TLS alert and a reload that turns it off lets plain HTTP in") {
    WebSetup s;
    {
        const int fd = connect_tcp(s.port());
        REQUIRE(fd >= 0);
        REQUIRE(send_raw(fd, "GET /http-bind HTTP/1.1\r\nHost: chat.example\r\n\r\n"));
        std::string got;
        CHECK(wait_closed(fd, std::chrono::seconds(5), &got));
        CHECK(got == std::string("\x15\x03\x01\x00\x02\x02\x0a", 7));
        ::close(fd);
    }
    CHECK(s.backend.connections() == 0);
    CHECK(s.metric("ward_web_refusals_total{listener=\"web\",protocol=\"xmpp-web\",reason=\"plain_http\"}") == 1);
    write_text_file(s.file, config_text(s.backend.endpoint(), false, "optional", ""));
    REQUIRE(s.ward->reload());
    const int fd = connect_tcp(s.port());
    REQUIRE(fd >= 0);
    REQUIRE(send_raw(fd, bosh_request()));
    const auto got = s.backend_until("hold='1'/>");
    CHECK(got.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind'/>")));
    CHECK(read_raw_until(fd, "httpbind'/>").find("200 OK") != std::string::npos);
    ::close(fd);
    // HTTPS goes on working on the same port.
    auto c = s.connect();
    REQUIRE(c->send("GET /nothing HTTP/1.1\r\nHost: chat.example\r\n\r\n"));
    CHECK(c->read_until("\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
    // A plain keep-alive connection, then a reload that turns the secure mode back on: its next
    // request is not taken.
    const int kept = connect_tcp(s.port());
    REQUIRE(kept >= 0);
    REQUIRE(send_raw(kept, bosh_request()));
    s.backend_until("hold='1'/>", 2);
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind' sid='k'/>")));
    CHECK(read_raw_until(kept, "sid='k'/>").find("200 OK") != std::string::npos);
    write_text_file(s.file, config_text(s.backend.endpoint(), true, "optional", ""));
    REQUIRE(s.ward->reload());
    const auto before = s.backend.received().size();
    REQUIRE(send_raw(kept, bosh_request()));
    std::string after;
    CHECK(wait_closed(kept, std::chrono::seconds(5), &after));
    CHECK(after.empty());
    CHECK(s.backend.received().size() == before);
    ::close(kept);
}

TEST_CASE("web listener: an empty line after a request does not turn the idle wait into a 408") {
    WebSetup s(true, "optional", "", "    limits: { idle_timeout: 2500ms }\n");
    auto c = s.connect();
    REQUIRE(c->send(bosh_request()));
    s.backend_until("hold='1'/>");
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind' sid='e'/>")));
    CHECK(c->read_until("sid='e'/>").find("200 OK") != std::string::npos);
    REQUIRE(c->send("\r\n"));
    // Closed at the idle timeout, quietly (request_timeout is 2s: a 408 would come first).
    std::string after;
    CHECK(c->wait_closed(std::chrono::seconds(8), &after));
    CHECK(after.empty());
}

TEST_CASE("web listener: a backend that closes after an interim answer gets the client a 502 and not a made-up 200") {
    WebSetup s;
    auto c = s.connect();
    REQUIRE(c->send(bosh_request()));
    s.backend_until("hold='1'/>");
    REQUIRE(s.backend.send("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"));
    s.backend.close_last();
    const auto answer = c->read_until("\r\n\r\n");
    CHECK(answer.rfind("HTTP/1.1 502", 0) == 0);
}

TEST_CASE("web listener: empty lines trickled into the idle wait do not stretch it") {
    WebSetup s(true, "optional", "", "    limits: { idle_timeout: 2s }\n");
    auto c = s.connect();
    const auto start = std::chrono::steady_clock::now();
    std::string after;
    bool closed = false;
    // An empty line every 300ms (each read back with a deadline: no sleep) until ward closes.
    while (!closed && std::chrono::steady_clock::now() - start < std::chrono::seconds(8)) {
        if (!c->send("\r\n")) break;
        closed = c->wait_closed(std::chrono::milliseconds(300), &after);
    }
    CHECK(closed);
    CHECK(after.empty());  // quietly: no 408
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("web listener: an IPv4 client of a dual-stack listener is forwarded as an IPv4 address") {
    WebSetup s(true, "optional", "", "", "[::]:0");
    auto c = s.connect();
    REQUIRE(c->send(bosh_request()));
    const auto got = s.backend_until("hold='1'/>");
    CHECK(got.find("X-Forwarded-For: 127.0.0.1\r\n") != std::string::npos);
    CHECK(got.find("::ffff:") == std::string::npos);
    // Answered, so that stopping ward has no request in flight to wait for (its drain).
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind'/>")));
    CHECK(c->read_until("httpbind'/>").find("200 OK") != std::string::npos);
}

TEST_CASE("web listener: a client offering ALPN must offer http/1.1") {
    WebSetup s;
    const int fd = connect_tcp(s.port());
    REQUIRE(fd >= 0);
    TlsClient h2(fd, s.ctx.get(), "chat.example", "h2");
    CHECK_FALSE(h2.ok());
    const int fd2 = connect_tcp(s.port());
    REQUIRE(fd2 >= 0);
    TlsClient h1(fd2, s.ctx.get(), "chat.example", "http/1.1");
    REQUIRE_MESSAGE(h1.ok(), h1.error());
    REQUIRE(h1.send("GET /nothing HTTP/1.1\r\nHost: chat.example\r\n\r\n"));
    CHECK(h1.read_until("\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("web listener: with verify_peer required a client without a trusted certificate does not get in") {
    WebSetup s(true, "required");
    TlsClient bare(s.port(), s.ctx.get());
    if (bare.ok()) {
        // TLS 1.3: the refusal comes after the client's side of the handshake finished.
        bare.send(bosh_request());
        CHECK(bare.wait_closed());
    }
    CHECK(s.backend.connections() == 0);
    auto user = s.pki.issue("browser", TestPki::client_spec("browser.example"));
    PeerOptions o;
    o.trust_ca = s.pki.ca().cert;
    o.cert = user.cert;
    o.key = user.key;
    auto with_cert = make_peer_ctx(o);
    auto c = s.connect(with_cert.get());
    REQUIRE(c->send(bosh_request()));
    s.backend_until("hold='1'/>");
    REQUIRE(s.backend.send(ok_response("<body xmlns='http://jabber.org/protocol/httpbind'/>")));
    CHECK(c->read_until("httpbind'/>").find("200 OK") != std::string::npos);
}
