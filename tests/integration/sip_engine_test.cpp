// SPDX-License-Identifier: Apache-2.0
// SIP over real TLS through the engine: framing in both directions, keep-alives, the exact
// reaction to broken framing, and the verified identity header, asserted on what the client
// receives and on what the backend receives.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "../support/net_test_support.hpp"
#include "../support/background_process.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;
using namespace ward::test;
namespace fs = std::filesystem;

namespace {

struct SipSetup {
    TempDir dir{"sip-engine"};
    TestPki pki{dir.path()};
    CertFiles client = pki.issue("client", TestPki::client_spec("trunk.example.net"));
    TcpBackend backend{TcpBackend::Mode::capture};
    std::unique_ptr<RunningWard> ward;
    tls::UniqueSslCtx ctx;

    explicit SipSetup(const std::string& sip_options = "", std::string backend_endpoint = "") {
        if (backend_endpoint.empty()) backend_endpoint = backend.endpoint();
        const auto file = dir.path() / "ward.yaml";
        write_text_file(file,
                        "certificates: { server: { cert: server.pem, key: server.key } }\n"
                        "trust_stores: { trust: { dir: trust } }\n"
                        "tls_peer_subjects: [ { subject: trunk.example.net } ]\n"
                        "tls_contexts:\n"
                        "  sip-ctx: { certificate: server, trust_store: trust, peer_subjects: [trunk.example.net] }\n"
                        "metrics: { enabled: false }\n"
                        "workers: 1\n"
                        "listeners:\n"
                        "  - name: sip-in\n    protocol: sip\n    bind: '127.0.0.1:0'\n"
                        "    backends: ['" + backend_endpoint + "']\n    tls_context: sip-ctx\n" +
                            sip_options);
        ward = std::make_unique<RunningWard>(file);
        PeerOptions o;
        o.cert = client.cert;
        o.key = client.key;
        o.trust_ca = pki.ca().cert;
        ctx = make_peer_ctx(o);
    }

    std::unique_ptr<TlsClient> connect() {
        auto c = std::make_unique<TlsClient>(ward->port("sip-in"), ctx.get());
        REQUIRE_MESSAGE(c->ok(), c->error());
        return c;
    }
};

std::string options_request(const std::string& call_id, const std::string& extra = "",
                            const std::string& body = "") {
    return "OPTIONS sip:ward.test SIP/2.0\r\n"
           "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK" + call_id + "\r\n"
           "From: <sip:a@example.net>;tag=1\r\n"
           "To: <sip:ward.test>\r\n"
           "Call-ID: " + call_id + "\r\n"
           "CSeq: 1 OPTIONS\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kIdentity = "X-Ward-TLS-Peer: trunk.example.net;listener=sip-in;context=sip-ctx\r\n";

// The request as the backend must see it: the identity line added as the last header.
std::string stamped(const std::string& request) {
    const auto end = request.find("\r\n\r\n");
    return request.substr(0, end + 2) + kIdentity + request.substr(end + 2);
}

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("sip engine: two messages in one TLS record are both forwarded - each stamped once") {
    SipSetup s;
    auto c = s.connect();
    const auto a = options_request("one"), b = options_request("two", "", "v=0\r\n");
    REQUIRE(c->send(a + b));  // one SSL_write: one record
    const auto expected = stamped(a) + stamped(b);
    CHECK(s.backend.wait_until([&] { return s.backend.received().size() >= expected.size(); }));
    CHECK(s.backend.received() == expected);
}

TEST_CASE("sip engine: one message split over three records arrives whole") {
    SipSetup s;
    auto c = s.connect();
    const auto m = options_request("split", "", "hello body");
    REQUIRE(c->send(m.substr(0, 10)));
    REQUIRE(c->send(m.substr(10, 60)));
    REQUIRE(c->send(m.substr(70)));
    CHECK(s.backend.wait_until([&] { return s.backend.received().size() >= stamped(m).size(); }));
    CHECK(s.backend.received() == stamped(m));
}

TEST_CASE("sip engine: a CRLFCRLF ping gets one CRLF pong from ward and nothing is forwarded") {
    SipSetup s;
    auto c = s.connect();
    REQUIRE(c->send("\r\n\r\n"));
    CHECK(c->read(2) == "\r\n");
    // A stray CRLF before a request is ignored; the request goes through.
    const auto m = options_request("after-ping");
    REQUIRE(c->send("\r\n" + m));
    CHECK(s.backend.wait_until([&] { return s.backend.received().size() >= stamped(m).size(); }));
    CHECK(s.backend.received() == stamped(m));
}

TEST_CASE("sip engine: responses from the backend return on the same TLS connection unmodified") {
    SipSetup s;
    auto c = s.connect();
    const auto m = options_request("resp");
    REQUIRE(c->send(m));
    REQUIRE(s.backend.wait_until([&] { return !s.backend.received().empty(); }));
    const std::string response =
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKresp\r\n"
        "From: <sip:a@example.net>;tag=1\r\nTo: <sip:ward.test>;tag=2\r\nCall-ID: resp\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(s.backend.send(response.substr(0, 30)));
    REQUIRE(s.backend.send(response.substr(30)));
    CHECK(c->read(response.size()) == response);
}

TEST_CASE("sip engine: forged identity headers are removed and exactly one true one is added") {
    SipSetup s;
    auto c = s.connect();
    const auto m = options_request("forged", "X-Ward-TLS-Peer: admin.evil;listener=x\r\nx-ward-tls-peer:   root\r\n");
    REQUIRE(c->send(m));
    CHECK(s.backend.wait_until([&] { return s.backend.received().find("\r\n\r\n") != std::string::npos; }));
    const auto got = s.backend.received();
    CHECK(count(got, "X-Ward-TLS-Peer") == 1);
    CHECK(count(got, "x-ward-tls-peer") == 0);
    CHECK(got.find("admin.evil") == std::string::npos);
    CHECK(got.find(kIdentity) != std::string::npos);
}

TEST_CASE("sip engine: broken Content-Length gets 400 then close and nothing reaches the backend") {
    for (const std::string bad : {"", "Content-Length: -1\r\n", "Content-Length: abc\r\n"}) {
        CAPTURE(bad);
        SipSetup s;
        auto c = s.connect();
        std::string m = options_request("bad-cl");
        // Replace the valid Content-Length line with the broken one (or none).
        m.replace(m.find("Content-Length: 0\r\n"), 19, bad);
        REQUIRE(c->send(m));
        std::string got;
        CHECK(c->wait_closed(std::chrono::seconds(10), &got));
        CHECK(got.rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);
        CHECK(got.find("Call-ID: bad-cl\r\n") != std::string::npos);
        CHECK(s.backend.received().empty());
    }
}

TEST_CASE("sip engine: a huge Content-Length and a 70 KB header get 513 then close") {
    {
        SipSetup s;
        auto c = s.connect();
        std::string m = options_request("huge");
        m.replace(m.find("Content-Length: 0"), 17, "Content-Length: 99999999");
        REQUIRE(c->send(m));
        std::string got;
        CHECK(c->wait_closed(std::chrono::seconds(10), &got));
        CHECK(got.rfind("SIP/2.0 513 Message Too Large\r\n", 0) == 0);
        CHECK(s.backend.received().empty());
    }
    {
        SipSetup s;
        auto c = s.connect();
        const auto m = options_request("big-head", "X-Padding: " + std::string(70 * 1024, 'a') + "\r\n");
        c->send(m);  // ward may close before it has all of it
        std::string got;
        CHECK(c->wait_closed(std::chrono::seconds(10), &got));
        CHECK(got.rfind("SIP/2.0 513 Message Too Large\r\n", 0) == 0);
        CHECK(s.backend.received().empty());
    }
}

TEST_CASE("sip engine: bytes that are not SIP close the connection with nothing forwarded") {
    SipSetup s;
    auto c = s.connect();
    std::mt19937 rng(42);
    std::string junk(512, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng() & 0xff);
    junk[0] = '\x16';  // not a method's first character
    REQUIRE(c->send(junk));
    std::string got;
    CHECK(c->wait_closed(std::chrono::seconds(10), &got));
    CHECK(got.empty());
    CHECK(s.backend.received().empty());
}

TEST_CASE("sip engine: a message that does not complete within message_timeout is dropped with the connection") {
    SipSetup s("    sip: { message_timeout: 300ms }\n");
    auto c = s.connect();
    const auto m = options_request("slow", "", "0123456789");
    REQUIRE(c->send(m.substr(0, m.size() - 5)));  // the body stops short
    const auto begin = std::chrono::steady_clock::now();
    CHECK(c->wait_closed(std::chrono::seconds(10)));
    CHECK(std::chrono::steady_clock::now() - begin >= std::chrono::milliseconds(250));
    CHECK(s.backend.received().empty());
}

TEST_CASE("sip engine: sip-outbound frames plaintext SIP from the local side into TLS it originates") {
    TempDir dir{"sip-outbound"};
    TestPki pki{dir.path()};
    PeerOptions o;
    o.cert = pki.server().cert;
    o.key = pki.server().key;
    o.trust_ca = pki.ca().cert;
    auto server_ctx = make_peer_server_ctx(o);
    TlsEchoServer remote(server_ctx.get());
    const auto file = dir.path() / "ward.yaml";
    write_text_file(file,
                    "certificates: { server: { cert: server.pem, key: server.key } }\n"
                    "trust_stores: { trust: { dir: trust } }\n"
                    "tls_peer_subjects: [ { subject: server.test } ]\n"
                    "tls_contexts: { out: { certificate: server, trust_store: trust, peer_subjects: [server.test] } }\n"
                    "metrics: { enabled: false }\nworkers: 1\n"
                    "listeners:\n  - { name: sip-out, protocol: sip-outbound, bind: '127.0.0.1:0', backends: ['127.0.0.1:" +
                        std::to_string(remote.port()) + "'], tls_context: out }\n");
    RunningWard ward(file);
    const int fd = connect_tcp(ward.port("sip-out"));
    REQUIRE(fd >= 0);
    const auto m = options_request("outbound", "X-Ward-TLS-Peer: untouched\r\n");
    REQUIRE(::send(fd, m.data(), m.size(), 0) == static_cast<ssize_t>(m.size()));
    // The remote echoes the request: it comes back framed, byte for byte (no stamping outbound).
    std::string got;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    while (got.size() < m.size()) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    CHECK(got == m);
    // Junk from the local side closes the session.
    ::send(fd, "\x01\x02junk", 6, 0);
    CHECK(wait_closed(fd, std::chrono::seconds(10)));
    ::close(fd);
    CHECK(remote.handshakes_ok == 1);
}

// (A flavour that does not resume verified peers - wolfSSL - makes every connection here a full
// handshake; resumption_test.cpp checks that in both.)
TEST_CASE("sip engine: a resumed session carries the identity only while the current context accepts the peer" *
          doctest::skip(!ward::tls::flavour::kResumesVerifiedPeers)) {
    SipSetup s;
    const auto file = s.dir.path() / "ward.yaml";
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
        const auto tag = std::to_string(version);
        PeerOptions with_cert;
        with_cert.cert = s.client.cert;
        with_cert.key = s.client.key;
        with_cert.trust_ca = s.pki.ca().cert;
        with_cert.max_version = version;
        PeerOptions bare = with_cert;  // resumes with the ticket alone, no certificate at all
        bare.cert.clear();
        bare.key.clear();
        auto cert_ctx = make_peer_ctx(with_cert);
        auto bare_ctx = make_peer_ctx(bare);

        // A full handshake, one request answered (the TLS 1.3 ticket arrives before the answer).
        SSL_SESSION* session = nullptr;
        {
            TlsClient first(s.ward->port("sip-in"), cert_ctx.get());
            REQUIRE_MESSAGE(first.ok(), first.error());
            const auto m = options_request("first-" + tag);
            REQUIRE(first.send(m));
            REQUIRE(s.backend.wait_until([&] { return s.backend.received().find(stamped(m)) != std::string::npos; }));
            const std::string answer = "SIP/2.0 200 OK\r\nCall-ID: first-" + tag + "\r\nContent-Length: 0\r\n\r\n";
            REQUIRE(s.backend.send(answer));
            CHECK(first.read(answer.size()) == answer);
            session = SSL_get1_session(first.ssl());
            first.shutdown();
        }
        REQUIRE(session != nullptr);

        // An unchanged reload: resumed, and stamped with the subject verified again.
        REQUIRE(s.ward->reload());
        {
            TlsClient again(s.ward->port("sip-in"), bare_ctx.get(), session);
            REQUIRE_MESSAGE(again.ok(), again.error());
            CHECK(again.resumed());
            const auto m = options_request("again-" + tag);
            REQUIRE(again.send(m));
            CHECK(s.backend.wait_until([&] { return s.backend.received().find(stamped(m)) != std::string::npos; }));
            again.shutdown();
        }

        // The subject leaves the context and the list: the same ticket gets nowhere.
        auto yaml = read_text_file(file);
        for (auto at = yaml.find("trunk.example.net"); at != std::string::npos; at = yaml.find("trunk.example.net"))
            yaml.replace(at, 17, "other.example.org");
        write_text_file(file, yaml);
        REQUIRE(s.ward->reload());
        {
            TlsClient refused(s.ward->port("sip-in"), bare_ctx.get(), session);
            CHECK_FALSE(refused.resumed());
            // TLS 1.2 fails in the handshake; TLS 1.3 hears the alert when it reads.
            if (refused.ok()) {
                refused.send(options_request("refused-" + tag));
                CHECK(refused.wait_closed());
            }
        }
        CHECK(s.backend.received().find("refused-" + tag) == std::string::npos);
        CHECK(s.backend.received().find("other.example.org") == std::string::npos);

        // Back as it was, for the next version's round.
        for (auto at = yaml.find("other.example.org"); at != std::string::npos; at = yaml.find("other.example.org"))
            yaml.replace(at, 17, "trunk.example.net");
        write_text_file(file, yaml);
        REQUIRE(s.ward->reload());
        SSL_SESSION_free(session);
    }
}

TEST_CASE("sip engine: with no backend reachable the first request gets 503 Service Unavailable then close") {
    // A port nothing listens on: the backend is down.
    SipSetup s("", "127.0.0.1:" + std::to_string(reserve_port()));
    auto c = s.connect();
    REQUIRE(c->send(options_request("down")));
    std::string got;
    CHECK(c->wait_closed(std::chrono::seconds(10), &got));
    CHECK(got.rfind("SIP/2.0 503 Service Unavailable\r\n", 0) == 0);
    CHECK(got.find("Call-ID: down\r\n") != std::string::npos);
    CHECK(got.find("Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKdown\r\n") != std::string::npos);
    CHECK(got.find("To: <sip:ward.test>;tag=ward-") != std::string::npos);
    // An ACK gets no answer (RFC 3261 section 17): only the close.
    auto ack = s.connect();
    std::string m = options_request("ack");
    m.replace(0, 7, "ACK");
    m.replace(m.find("CSeq: 1 OPTIONS"), 15, "CSeq: 1 ACK");
    REQUIRE(ack->send(m));
    std::string nothing;
    CHECK(ack->wait_closed(std::chrono::seconds(10), &nothing));
    CHECK(nothing.empty());
}

TEST_CASE("sip engine: a request the backend leaves unanswered gets 408 at message_timeout and an answered one none") {
    SipSetup s("    sip: { message_timeout: 400ms }\n");
    auto c = s.connect();
    const auto begin = std::chrono::steady_clock::now();
    REQUIRE(c->send(options_request("silent")));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().find("Call-ID: silent") != std::string::npos; }));
    const auto got = c->read_until("\r\n\r\n");
    const auto waited = std::chrono::steady_clock::now() - begin;
    CHECK(got.rfind("SIP/2.0 408 Request Timeout\r\n", 0) == 0);
    CHECK(got.find("Call-ID: silent\r\n") != std::string::npos);
    CHECK(got.find("CSeq: 1 OPTIONS\r\n") != std::string::npos);
    CHECK(waited >= std::chrono::milliseconds(350));
    CHECK(waited < std::chrono::seconds(5));
    // The connection stays: the next request the backend answers gets its answer, and no 408.
    REQUIRE(c->send(options_request("answered")));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().find("Call-ID: answered") != std::string::npos; }));
    const std::string ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKanswered\r\n"
                           "From: <sip:a@example.net>;tag=1\r\nTo: <sip:ward.test>;tag=9\r\nCall-ID: answered\r\n"
                           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(s.backend.send(ok));
    CHECK(c->read_until("\r\n\r\n") == ok);
    // A third request, answered only after the first's timeout would have passed: a 100 Trying
    // in time keeps ward quiet; the end's own timers take over from there.
    REQUIRE(c->send(options_request("trying")));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().find("Call-ID: trying") != std::string::npos; }));
    const std::string trying = "SIP/2.0 100 Trying\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKtrying\r\n"
                               "From: <sip:a@example.net>;tag=1\r\nTo: <sip:ward.test>\r\nCall-ID: trying\r\n"
                               "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(s.backend.send(trying));
    CHECK(c->read_until("\r\n\r\n") == trying);
    // Twice the timeout later ward has still written nothing of its own for it.
    CHECK(c->read_until("\r\n\r\n", std::chrono::milliseconds(800)).empty());
}

// A peer with a small receive window (set before connecting) that reads nothing unless told.
std::unique_ptr<TlsClient> connect_small_window(SipSetup& s) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    const int small = 4096;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(s.ward->port("sip-in"));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0);
    auto c = std::make_unique<TlsClient>(fd, s.ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(c->ok(), c->error());
    return c;
}

TEST_CASE("sip engine: a peer that never reads the 408s it is owed is cut off - what ward holds for it stays bounded") {
    SipSetup s("    sip: { message_timeout: 150ms }\n");
    auto client = connect_small_window(s);
    auto& c = *client;
    // Requests with many Vias (their 408s copy them all), each its own transaction, which the
    // backend never answers: batch after batch until ward gives up on the peer.
    std::string vias;
    for (int i = 0; i < 24; ++i) vias += "Via: SIP/2.0/TLS relay" + std::to_string(i) + ".example.net;branch=z9hG4bKr" + std::to_string(i) + "\r\n";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool cut = false;
    for (int batch = 0; !cut && std::chrono::steady_clock::now() < until; ++batch) {
        std::string requests;
        for (int i = 0; i < 16; ++i) requests += options_request("b" + std::to_string(batch) + "-" + std::to_string(i), vias);
        const auto before = s.backend.received_size();
        if (!c.send(requests)) {
            cut = true;
            break;
        }
        // Paced by the backend taking each batch; a peer cut off is seen by a send failing.
        s.backend.wait_until([&] { return s.backend.received_size() >= before + requests.size(); },
                             std::chrono::seconds(5));
    }
    CHECK(cut);
}

TEST_CASE("sip engine: a broken request from a peer that reads nothing ends the session within the closing second") {
    // The peer's window is full of responses ward relays from the backend, so ward's 400 cannot
    // be written: the session must not wait for it until idle_timeout.
    SipSetup s("    limits: { idle_timeout: 120s }\n");
    auto c = connect_small_window(s);
    const auto first = options_request("full-1");
    REQUIRE(c->send(first));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received_size() >= stamped(first).size(); }));
    // Responses until nothing moves: ward's writes to the peer are blocked.
    const std::string response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKfull-1\r\n"
                                 "Call-ID: full-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 32768\r\n\r\n" +
                                 std::string(32768, 'r');
    std::string pending;
    bool stalled = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!stalled && std::chrono::steady_clock::now() < until) {
        if (pending.empty()) pending = response;
        const long n = s.backend.send_some(pending);
        REQUIRE(n >= 0);
        if (n > 0) {
            pending.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        stalled = !s.backend.writable(std::chrono::milliseconds(300));
    }
    REQUIRE(stalled);
    std::string broken = options_request("full-2");
    broken.replace(broken.find("Content-Length: 0\r\n"), 19, "Content-Length: abc\r\n");
    REQUIRE(c->send(broken));
    // Ward gives up on its answer after the closing second and closes both sides.
    CHECK(s.backend.wait_until([&] { return s.backend.peer_closed(); }, std::chrono::seconds(10)));
    CHECK(s.backend.received_size() == stamped(first).size());
}

TEST_CASE("sip engine: a backend writing while ward lingers on a broken peer does not cut the linger short") {
    // After its 400, ward reads and drops what the peer still sends until the peer closes or the
    // closing second ends. A response from the backend meanwhile cannot be delivered; it must
    // not close the peer's connection early (a close with the peer's bytes unread resets it,
    // and a reset can destroy the 400 before the peer has read it).
    SipSetup s;
    auto c = s.connect();
    const auto first = options_request("linger-1");
    REQUIRE(c->send(first));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received_size() >= stamped(first).size(); }));
    const auto begin = std::chrono::steady_clock::now();  // before ward's closing second starts
    std::string broken = options_request("linger-2");
    broken.replace(broken.find("Content-Length: 0\r\n"), 19, "Content-Length: abc\r\n");
    REQUIRE(c->send(broken));
    std::string got;
    REQUIRE(c->wait_closed(std::chrono::seconds(10), &got));
    CHECK(got.rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);
    // Ward is lingering now: the backend answers the first request.
    REQUIRE(s.backend.send("SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKlinger-1\r\n"
                           "Call-ID: linger-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"));
    // The peer goes on sending (bytes ward drops) until ward's socket is gone (a reset).
    const std::string bytes(512, 'x');
    bool reset = false;
    while (!reset && std::chrono::steady_clock::now() - begin < std::chrono::seconds(10)) {
        if (::send(c->fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) {
            reset = true;
            break;
        }
        // Paced (ward drops at most 256 KiB): woken early only by the reset (POLLERR, POLLHUP;
        // ward's FIN alone is neither).
        pollfd p{c->fd(), 0, 0};
        reset = ::poll(&p, 1, 20) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
    }
    REQUIRE(reset);
    // Not before the closing second ran out.
    CHECK(std::chrono::steady_clock::now() - begin >= std::chrono::milliseconds(950));
}
