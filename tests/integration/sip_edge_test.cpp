// SPDX-License-Identifier: Apache-2.0
// SIP edge routing both ways through the engine, over real TLS and real sockets: a registrar
// (the test, on ward's backend connections and on its return listener) stores the Path ward
// adds to a REGISTER and later sends a request to it; the request arrives on the TLS
// connection the token names, the peer's answer comes back on the return connection, and a
// token for a closed flow, an altered one, none at all, or Max-Forwards 0 get ward's answer.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <regex>
#include <thread>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;
using namespace ward::test;

namespace {

struct EdgeSetup {
    TempDir dir{"sip-edge"};
    TestPki pki{dir.path()};
    CertFiles client = pki.issue("client", TestPki::client_spec("trunk.example.net"));
    TcpBackend registrar{TcpBackend::Mode::capture};
    std::unique_ptr<RunningWard> ward;
    tls::UniqueSslCtx ctx;

    explicit EdgeSetup(const std::string& sip = "{ return_bind: '127.0.0.1:0' }") {
        const auto file = dir.path() / "ward.yaml";
        // Two workers: a flow and the return connection that names it may live on different ones.
        write_text_file(file,
                        "certificates: { server: { cert: server.pem, key: server.key } }\n"
                        "trust_stores: { trust: { dir: trust } }\n"
                        "tls_peer_subjects: [ { subject: trunk.example.net } ]\n"
                        "tls_contexts:\n"
                        "  sip-ctx: { certificate: server, trust_store: trust, peer_subjects: [trunk.example.net] }\n"
                        "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
                        "workers: 2\n"
                        "listeners:\n"
                        "  - name: sip-in\n    protocol: sip\n    bind: '127.0.0.1:0'\n"
                        "    backends: ['" + registrar.endpoint() + "']\n    tls_context: sip-ctx\n"
                        "    sip: " + sip + "\n");
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
    std::uint16_t return_port() const { return ward->port("sip-in/return"); }
    std::string inner() const { return "127.0.0.1:" + std::to_string(return_port()); }
    std::string outer() const { return "127.0.0.1:" + std::to_string(ward->port("sip-in")); }

    // The registrar's view: what arrived on ward's backend connections so far.
    std::string wait_for(const std::string& needle) {
        registrar.wait_until([&] { return registrar.received().find(needle) != std::string::npos; });
        return registrar.received();
    }
    std::uint64_t metric(const std::string& series) {
        const auto text = fetch_metrics(ward->metrics_port());
        const auto at = text.find(series + " ");
        return at == std::string::npos ? ~0ull : std::stoull(text.substr(at + series.size() + 1));
    }
};

std::string sip_register(const std::string& user, const std::string& call_id, bool outbound) {
    return "REGISTER sip:registrar.test SIP/2.0\r\n"
           "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK" + call_id + "\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:" + user + "@registrar.test>;tag=r1\r\n"
           "To: <sip:" + user + "@registrar.test>\r\n"
           "Call-ID: " + call_id + "\r\n"
           "CSeq: 1 REGISTER\r\n"
           "Contact: <sip:" + user + "@192.0.2.1:5061;transport=tls>" +
           (outbound ? ";reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"" : "") + "\r\n"
           "Content-Length: 0\r\n\r\n";
}

// A request as the registrar sends it to a stored Path (`route`: the Route header's value).
std::string from_registrar(const std::string& method, const std::string& branch, const std::string& route,
                           const std::string& extra = "") {
    std::string m = method + " sip:a@192.0.2.1:5061;transport=tls SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=" + branch + "\r\n";
    if (!route.empty()) m += "Route: " + route + "\r\n";
    m += extra;
    if (extra.find("Max-Forwards") == std::string::npos) m += "Max-Forwards: 69\r\n";
    m += "Record-Route: <sip:registrar.test;lr>\r\n"
         "From: <sip:b@registrar.test>;tag=b1\r\n"
         "To: <sip:a@registrar.test>\r\n"
         "Call-ID: call-" + branch + "\r\n"
         "CSeq: 1 " + method + "\r\n"
         "Content-Length: 0\r\n\r\n";
    return m;
}

// The Path URI ward added to the REGISTER with this Call-ID, as the registrar got it.
std::string path_of(const std::string& received, const std::string& call_id) {
    const auto at = received.find("Call-ID: " + call_id);
    REQUIRE(at != std::string::npos);
    const auto begin = received.rfind("REGISTER ", at);
    std::smatch m;
    const std::string message = received.substr(begin, at - begin);
    REQUIRE(std::regex_search(message, m, std::regex("\r\nPath: (<[^>]+>)\r\n")));
    return m[1];
}

std::string token_of(const std::string& uri) {
    const auto colon = uri.find(':');
    return uri.substr(colon + 1, uri.find('@') - colon - 1);
}

}  // namespace

TEST_CASE("sip edge: REGISTER gets ward's Path and the registrar's INVITE to it reaches that TLS connection") {
    EdgeSetup s;
    auto a = s.connect();
    auto b = s.connect();
    REQUIRE(a->send(sip_register("a", "reg-a", true)));
    REQUIRE(b->send(sip_register("b", "reg-b", false)));
    s.wait_for("Call-ID: reg-a");  // (the two connections may be served in either order)
    const auto got = s.wait_for("Call-ID: reg-b");
    const auto path_a = path_of(got, "reg-a");
    const auto path_b = path_of(got, "reg-b");
    // The token names the flow; ;ob because A's Contact has a reg-id (RFC 5626 section 5.1).
    CHECK(std::regex_match(path_a, std::regex("<sip:[A-Za-z0-9_-]{38}@" + s.inner() + ";transport=tcp;lr;ob>")));
    CHECK(std::regex_match(path_b, std::regex("<sip:[A-Za-z0-9_-]{38}@" + s.inner() + ";transport=tcp;lr>")));
    CHECK(path_a != path_b);
    // ward is a hop: Max-Forwards went down; a REGISTER carries no Record-Route of ward's.
    CHECK(got.find("Max-Forwards: 69\r\n") != std::string::npos);
    CHECK(got.find("Record-Route") == std::string::npos);

    // The registrar sends A's INVITE to A's Path, on a connection of its own to the return listener.
    const int r = connect_tcp(s.return_port());
    REQUIRE(r >= 0);
    REQUIRE(send_raw(r, from_registrar("INVITE", "z9hG4bKinv1", path_a)));
    const auto invite = a->read_until("\r\n\r\n");
    CHECK(invite.rfind("INVITE sip:a@192.0.2.1:5061;transport=tls SIP/2.0\r\n", 0) == 0);
    CHECK(invite.find("\r\nRoute:") == std::string::npos);  // ward's own entry was its to remove
    CHECK(invite.find("Max-Forwards: 68\r\n") != std::string::npos);
    // The pair that keeps ward on the dialog's path: the TLS side on top (the peer's next hop).
    // (The inner one carries a dialog token: for this Call-ID only, not A's path token.)
    std::smatch rr;
    REQUIRE(std::regex_search(invite, rr, std::regex("Record-Route: <sip:" + s.outer() +
                                                     ";transport=tls;lr>\r\nRecord-Route: <sip:([A-Za-z0-9_-]{38})@" +
                                                     s.inner() + ";transport=tcp;lr>\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;"
                                                     "branch=z9hG4bKinv1")));
    CHECK(rr[1] != token_of(path_a));
    CHECK(invite.find("Record-Route: <sip:registrar.test;lr>") > invite.find("Record-Route: <sip:" + s.outer()));

    // A answers on its TLS connection: the 180 and 200 go back on the return connection.
    const std::string ringing = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKinv1\r\n"
                                "From: <sip:b@registrar.test>;tag=b1\r\nTo: <sip:a@registrar.test>;tag=a1\r\n"
                                "Call-ID: call-z9hG4bKinv1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    std::string ok = ringing;
    ok.replace(0, 19, "SIP/2.0 200 OK");
    REQUIRE(a->send(ringing + ok));
    std::string answers;
    while (answers.size() < ringing.size() + ok.size()) {
        const auto more = read_raw_until(r, "\r\n\r\n");
        if (more.empty()) break;
        answers += more;
    }
    CHECK(answers == ringing + ok);

    // B's flow is B's: a request for B's token reaches B, and B's first message is that one.
    REQUIRE(send_raw(r, from_registrar("MESSAGE", "z9hG4bKmsg1", path_b)));
    const auto to_b = b->read_until("\r\n\r\n");
    CHECK(to_b.rfind("MESSAGE sip:", 0) == 0);
    CHECK(to_b.find("z9hG4bKmsg1") != std::string::npos);
    // Nothing of this went to the backend connections.
    CHECK(s.registrar.received().find("SIP/2.0 180") == std::string::npos);
    // (Counted by the worker just after the request went out: B may read it first.)
    CHECK(s.registrar.wait_until([&] {
        return s.metric("ward_sip_routed_total{listener=\"sip-in/return\",protocol=\"sip-return\",direction=\"request_to_peer\"}") == 2;
    }));
    CHECK(s.metric("ward_sip_flows_open{listener=\"sip-in\",protocol=\"sip\"}") == 2);
    ::close(r);
}

TEST_CASE("sip edge: a closed flow gets 430 - an altered or missing token 403 - Max-Forwards 0 gets 483") {
    EdgeSetup s;
    auto a = s.connect();
    auto b = s.connect();
    REQUIRE(a->send(sip_register("a", "reg-a", false)));
    REQUIRE(b->send(sip_register("b", "reg-b", false)));
    s.wait_for("Call-ID: reg-a");  // (the two connections may be served in either order)
    const auto got = s.wait_for("Call-ID: reg-b");
    const auto path_a = path_of(got, "reg-a");
    const auto path_b = path_of(got, "reg-b");

    // A leaves: its flow fails.
    a->shutdown();
    a.reset();
    REQUIRE(s.registrar.wait_until([&] { return s.metric("ward_sip_flows_open{listener=\"sip-in\",protocol=\"sip\"}") == 1; }));
    const int r = connect_tcp(s.return_port());
    REQUIRE(r >= 0);
    REQUIRE(send_raw(r, from_registrar("INVITE", "z9hG4bKgone", path_a)));
    auto answer = read_raw_until(r, "\r\n\r\n");
    CHECK(answer.rfind("SIP/2.0 430 Flow Failed\r\n", 0) == 0);
    CHECK(answer.find("branch=z9hG4bKgone") != std::string::npos);

    // An altered token: one character changed.
    auto forged = path_b;
    const auto t = forged.find(':') + 5;
    forged[t] = forged[t] == 'A' ? 'B' : 'A';
    REQUIRE(send_raw(r, from_registrar("INVITE", "z9hG4bKforged", forged)));
    answer = read_raw_until(r, "\r\n\r\n");
    CHECK(answer.rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
    CHECK(answer.find("branch=z9hG4bKforged") != std::string::npos);

    // No Route at all, or one that does not name ward first: ward opens no connection anywhere.
    REQUIRE(send_raw(r, from_registrar("OPTIONS", "z9hG4bKnoroute", "")));
    CHECK(read_raw_until(r, "\r\n\r\n").rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
    REQUIRE(send_raw(r, from_registrar("OPTIONS", "z9hG4bKelsewhere", "<sip:evil.example:5061;lr>, " + path_b)));
    CHECK(read_raw_until(r, "\r\n\r\n").rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
    // A valid top entry followed by a forged one of ward's: refused as a whole.
    REQUIRE(send_raw(r, from_registrar("OPTIONS", "z9hG4bKtail", path_b + ", " + forged)));
    CHECK(read_raw_until(r, "\r\n\r\n").rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);

    // An ACK with a bad token gets no answer (RFC 3261 section 17), and the next request does.
    REQUIRE(send_raw(r, from_registrar("ACK", "z9hG4bKack", forged) +
                            from_registrar("OPTIONS", "z9hG4bKhops", path_b, "Max-Forwards: 0\r\n")));
    answer = read_raw_until(r, "\r\n\r\n");
    CHECK(answer.rfind("SIP/2.0 483 Too Many Hops\r\n", 0) == 0);
    CHECK(answer.find("branch=z9hG4bKhops") != std::string::npos);

    // B saw none of it; a good request still reaches B.
    REQUIRE(send_raw(r, from_registrar("OPTIONS", "z9hG4bKgood", path_b)));
    const auto to_b = b->read_until("\r\n\r\n");
    CHECK(to_b.find("branch=z9hG4bKgood") != std::string::npos);
    CHECK(s.metric("ward_sip_flow_failures_total{listener=\"sip-in/return\",protocol=\"sip-return\",reason=\"closed\"}") == 1);
    CHECK(s.metric("ward_sip_flow_failures_total{listener=\"sip-in/return\",protocol=\"sip-return\",reason=\"refused\"}") == 5);
    CHECK(s.metric("ward_sip_flow_failures_total{listener=\"sip-in/return\",protocol=\"sip-return\",reason=\"hops\"}") == 1);
    ::close(r);
}

TEST_CASE("sip edge: a peer's request gets the Record-Route pair and loses ward's Route entries") {
    EdgeSetup s;
    auto a = s.connect();
    // A starts a dialog: the registrar sees ward's pair, the inner URI with A's dialog token.
    const std::string invite = "INVITE sip:b@registrar.test SIP/2.0\r\n"
                               "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKinv\r\n"
                               "From: <sip:a@registrar.test>;tag=a1\r\nTo: <sip:b@registrar.test>\r\n"
                               "Call-ID: dialog-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(a->send(invite));
    const auto first = s.wait_for("Call-ID: dialog-1");
    std::smatch m;
    REQUIRE(std::regex_search(first, m, std::regex("INVITE sip:b@registrar.test SIP/2.0\r\nMax-Forwards: 70\r\n"
                                                   "Record-Route: <sip:([A-Za-z0-9_-]{38})@" + s.inner() +
                                                   ";transport=tcp;lr>\r\nRecord-Route: <sip:" + s.outer() +
                                                   ";transport=tls;lr>\r\n")));
    const std::string token = m[1];
    // An in-dialog request as A's route set makes it: ward's two entries, then the registrar's.
    const std::string bye = "BYE sip:b@192.0.2.2:5061;transport=tls SIP/2.0\r\n"
                            "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKbye\r\n"
                            "Route: <sip:" + s.outer() + ";transport=tls;lr>,\r\n <sip:" + token + "@" + s.inner() +
                            ";transport=tcp;lr>\r\nRoute: <sip:registrar.test;lr>\r\n"
                            "From: <sip:a@registrar.test>;tag=a1\r\nTo: <sip:b@registrar.test>;tag=b1\r\n"
                            "Call-ID: dialog-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(a->send(bye));
    const auto got = s.wait_for("CSeq: 2 BYE");
    const auto msg = got.substr(got.rfind("BYE sip:"));
    CHECK(msg.rfind("BYE sip:b@192.0.2.2:5061;transport=tls SIP/2.0\r\nMax-Forwards: 70\r\n"
                    "Record-Route: <sip:" + token + "@" + s.inner() + ";transport=tcp;lr>\r\n"
                    "Record-Route: <sip:" + s.outer() + ";transport=tls;lr>\r\n", 0) == 0);
    CHECK(msg.find("Route: <sip:registrar.test;lr>\r\n") != std::string::npos);
    CHECK(msg.find("\r\nRoute: <sip:" + s.outer()) == std::string::npos);
    CHECK(msg.find("X-Ward-TLS-Peer: trunk.example.net;listener=sip-in;context=sip-ctx\r\n") != std::string::npos);

    // The same token in another dialog, or a made-up one: 403 to the peer, nothing forwarded.
    for (const std::string& bad : {token, std::string(38, 'A')}) {
        std::string other = bye;
        other.replace(other.find(token), token.size(), bad);
        other.replace(other.find("dialog-1"), 8, "dialog-2");
        REQUIRE(a->send(other));
        const auto answer = a->read_until("\r\n\r\n");
        CHECK(answer.rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
        CHECK(answer.find("Call-ID: dialog-2") != std::string::npos);
    }
    CHECK(s.registrar.received().find("dialog-2") == std::string::npos);
}

TEST_CASE("sip edge: a backend flooding the return listener without reading is held back and others are served") {
    EdgeSetup s;  // (two workers: the flood may land on either, the client on the same one)
    const int flood = connect_tcp(s.return_port());
    REQUIRE(flood >= 0);
    // Keep-alive pings as fast as the socket takes them, never reading a pong: ward's answers
    // pile up, ward stops reading, the kernel's buffers fill and the writer blocks.
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> written{0};
    std::thread flooder([&] {
        const std::string pings(64 * 1024, '\0');
        std::string chunk;
        for (int i = 0; i < 64 * 1024 / 4; ++i) chunk += "\r\n\r\n";
        while (!stop.load()) {
            const auto n = ::send(flood, chunk.data(), chunk.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            written += static_cast<std::uint64_t>(n);
        }
    });
    // Meanwhile, a peer's request goes through, on every worker.
    for (int i = 0; i < 4; ++i) {
        auto a = s.connect();
        REQUIRE(a->send(sip_register("a", "reg-during-flood-" + std::to_string(i), false)));
        CHECK(s.registrar.wait_until([&] {
            return s.registrar.received().find("reg-during-flood-" + std::to_string(i)) != std::string::npos;
        }));
    }
    // ward took a bounded amount: the flooder is blocked well before a gigabyte.
    const auto before = written.load();
    CHECK(before < 64ull * 1024 * 1024);
    stop = true;
    ::shutdown(flood, SHUT_RDWR);
    flooder.join();
    ::close(flood);
}

TEST_CASE("sip edge: a backend that never reads ward's answers is closed at message_timeout") {
    EdgeSetup s("{ return_bind: '127.0.0.1:0', message_timeout: 1s }");
    const int flood = connect_tcp(s.return_port());
    REQUIRE(flood >= 0);
    // Pings until the send fails: ward stops reading once its answers pile up, then closes the
    // connection when message_timeout passes, and the blocked send returns an error.
    std::promise<void> ended;
    auto done = ended.get_future();
    std::thread flooder([&] {
        std::string chunk;
        for (int i = 0; i < 16 * 1024; ++i) chunk += "\r\n\r\n";
        while (::send(flood, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
        }
        ended.set_value();
    });
    const bool closed = done.wait_for(std::chrono::seconds(15)) == std::future_status::ready;
    if (!closed) ::shutdown(flood, SHUT_RDWR);  // (unblocks the flooder so the test can end)
    flooder.join();
    ::close(flood);
    CHECK(closed);
}
