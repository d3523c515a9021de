// SPDX-License-Identifier: Apache-2.0
// XMPP client-to-node on the wire, through the engine on real loopback sockets: the exact
// bytes ward sends for every pre-TLS reaction, STARTTLS and Direct TLS end to end with a
// scripted backend, and that the backend receives nothing when it must not.
#include <doctest/doctest.h>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"
#include "../support/xmpp_wire.hpp"
#include "tls/alpn.hpp"

using namespace ward;
using namespace ward::test;
using namespace ward::test::xmpp_wire;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kClientHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.org' version='1.0'>";
// ward's header, its random id written as '*' (see masked()).
constexpr std::string_view kWardHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='*' from='example.org' version='1.0'>";
constexpr std::string_view kFeaturesRequired =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
constexpr std::string_view kStarttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
constexpr std::string_view kProceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
constexpr std::string_view kClose = "</stream:stream>";

// What a backend (prosody without TLS) answers; it offers STARTTLS and compression, which ward
// must not pass on.
constexpr std::string_view kBackendHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='backend-id-7' from='example.org' version='1.0'>";
constexpr std::string_view kBackendFeatures =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method></compression>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
    "</stream:features>";
constexpr std::string_view kFeaturesAsPassed =
    "<stream:features><mechanisms xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>";

struct C2sSetup {
    TempDir dir{"xmpp-c2s"};
    TestPki pki{dir.path()};
    CertFiles xmpp_cert;
    TcpBackend backend{TcpBackend::Mode::capture};
    std::unique_ptr<RunningWard> ward;
    tls::UniqueSslCtx ctx;

    explicit C2sSetup(bool secure = true, const std::string& limits = "{ handshake_timeout: 5s }",
                      const std::string& backend_endpoint = "") {
        ops::CertSpec spec;
        spec.common_names = {"example.org"};
        spec.dns_names = {"example.org", "other.example"};
        xmpp_cert = pki.issue("xmpp", spec);
        write_config(secure, limits, backend_endpoint.empty() ? backend.endpoint() : backend_endpoint);
        ward = std::make_unique<RunningWard>(dir.path() / "ward.yaml");
        PeerOptions o;
        o.trust_ca = pki.ca().cert;
        ctx = make_peer_ctx(o);
    }

    void write_config(bool secure, const std::string& limits, const std::string& backend_endpoint) {
        const std::string common = "    backends: ['" + backend_endpoint +
                                   "']\n    tls_context: c2s\n    xmpp: { domains: [example.org, other.example] }\n"
                                   "    limits: " + limits + "\n";
        write_text_file(dir.path() / "ward.yaml",
                        std::string("certificates: { xmpp: { cert: xmpp.pem, key: xmpp.key } }\n"
                                    "tls_contexts:\n  c2s: { certificate: xmpp, verify_peer: none }\n"
                                    "security: { xmpp: { client_to_node_secure: ") +
                            (secure ? "true" : "false") +
                            " } }\n"
                            "metrics: { enabled: false }\nworkers: 1\n"
                            "listeners:\n"
                            "  - name: c2s\n    protocol: xmpp-client\n    bind: '127.0.0.1:0'\n" + common +
                            "  - name: c2s-tls\n    protocol: xmpp-client-tls\n    bind: '127.0.0.1:0'\n" + common);
    }

    int connect_plain() {
        const int fd = connect_tcp(ward->port("c2s"));
        REQUIRE(fd >= 0);
        return fd;
    }

    // Header, features, <starttls/>, <proceed/>, TLS: the client on the far side of STARTTLS.
    std::unique_ptr<TlsClient> starttls(const std::string& sni = "example.org") {
        const int fd = connect_plain();
        REQUIRE(send_raw(fd, kClientHeader));
        CHECK(masked(read_raw_until(fd, "</stream:features>")) == cat({kWardHeader, kFeaturesRequired}));
        REQUIRE(send_raw(fd, kStarttls));
        CHECK(read_raw_until(fd, kProceed) == kProceed);
        auto tls = std::make_unique<TlsClient>(fd, ctx.get(), sni, "");
        REQUIRE_MESSAGE(tls->ok(), tls->error());
        return tls;
    }

    // After TLS: the restarted header reaches the backend, which answers; the client gets the
    // backend's header verbatim and its features without STARTTLS and compression.
    void open_through(TlsClient& client) {
        REQUIRE(client.send(kClientHeader));
        REQUIRE(backend.wait_until([&] { return backend.received().find(kClientHeader) != std::string::npos; }));
        CHECK(backend.received() == kClientHeader);
        REQUIRE(backend.send(cat({kBackendHeader, kBackendFeatures})));
        CHECK(client.read_until("</stream:features>") == cat({kBackendHeader, kFeaturesAsPassed}));
    }

    // A plaintext exchange that ward answers and closes: what the client got in all.
    std::string refused(std::string_view input) {
        const int fd = connect_plain();
        REQUIRE(send_raw(fd, input));
        std::string got;
        CHECK(wait_closed(fd, 10s, &got));
        ::close(fd);
        return masked(got);
    }
};

}  // namespace

TEST_CASE("xmpp c2s: STARTTLS then the backend's stream relayed both ways") {
    C2sSetup s;
    auto client = s.starttls();
    s.open_through(*client);
    const std::string auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>";
    REQUIRE(client->send(auth));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == cat({kClientHeader, auth}); }));
    const std::string success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    REQUIRE(s.backend.send(success));
    CHECK(client->read_until("/>") == success);
    // The client's stream close reaches the backend, then the backend's.
    REQUIRE(client->send(kClose));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().ends_with(kClose); }));
    REQUIRE(s.backend.send(kClose));
    CHECK(client->read_until(kClose) == kClose);
}

TEST_CASE("xmpp c2s: Direct TLS with ALPN xmpp-client or none and refused with another ALPN") {
    C2sSetup s;
    int connections = 0;
    for (const std::string alpn : {"xmpp-client", ""}) {
        INFO("ALPN '" << alpn << "'");
        ++connections;
        TlsClient client(connect_tcp(s.ward->port("c2s-tls")), s.ctx.get(), "example.org", alpn);
        REQUIRE_MESSAGE(client.ok(), client.error());
        CHECK(tls::selected_alpn(client.ssl()) == alpn);
        REQUIRE(client.send(kClientHeader));
        REQUIRE(s.backend.wait_until([&] {
            return s.backend.connections() == connections && s.backend.received().ends_with(kClientHeader);
        }));
        REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
        CHECK(client.read_until("</stream:features>") == cat({kBackendHeader, kFeaturesAsPassed}));
    }
    const int before = s.backend.connections();
    TlsClient h2(connect_tcp(s.ward->port("c2s-tls")), s.ctx.get(), "example.org", "h2");
    std::string got;
    // TLS 1.3: the client may finish before it reads the server's no_application_protocol alert;
    // its first write may then already fail on that alert, and nothing comes back.
    if (h2.ok()) {
        (void)h2.send(kClientHeader);
        CHECK(h2.wait_closed(10s, &got));
        CHECK(got.empty());
    }
    CHECK(s.backend.connections() == before);
}

TEST_CASE("xmpp c2s: starttls on an encrypted stream gets failure and never reaches the backend") {
    C2sSetup s;
    TlsClient client(connect_tcp(s.ward->port("c2s-tls")), s.ctx.get(), "example.org", "xmpp-client");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send(kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    client.read_until("</stream:features>");
    REQUIRE(client.send(kStarttls));
    std::string got;
    CHECK(client.wait_closed(10s, &got));
    CHECK(got == "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    CHECK(s.backend.received() == kClientHeader);
}

TEST_CASE("xmpp c2s: starttls in the same write as the encrypted stream's header gets failure too") {
    // The header's tokenizer goes on in the guard only when nothing followed the header; here
    // the guard parses the header itself and must refuse the same.
    C2sSetup s;
    TlsClient client(connect_tcp(s.ward->port("c2s-tls")), s.ctx.get(), "example.org", "xmpp-client");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send(cat({kClientHeader, kStarttls})));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    std::string got;
    CHECK(client.wait_closed(10s, &got));
    CHECK(got.ends_with("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"));
    CHECK(s.backend.received() == kClientHeader);
}

TEST_CASE("xmpp c2s: after its close tag a client may send only whitespace - anything else ends the session") {
    C2sSetup s;
    auto client = s.starttls();
    s.open_through(*client);
    // The close comes first (the guard's first element), then a keepalive and a byte.
    REQUIRE(client->send(kClose));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().ends_with(kClose); }));
    REQUIRE(client->send(" \n"));
    REQUIRE(client->send("<message to='a@example.org'/>"));
    CHECK(client->wait_closed(10s));
    CHECK(s.backend.wait_until([&] { return s.backend.peer_closed(); }));
    CHECK(s.backend.received() == cat({kClientHeader, kClose}));
}

TEST_CASE("xmpp c2s: a stanza before TLS is not authorized and the backend sees nothing") {
    C2sSetup s;
    CHECK(s.refused(cat({kClientHeader, "<message to='a@example.org'><body>hi</body></message>"})) ==
          cat({kWardHeader, kFeaturesRequired, error_text("not-authorized")}));
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: auth before TLS gets encryption-required") {
    C2sSetup s;
    CHECK(s.refused(cat({kClientHeader, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>"})) ==
          cat({kWardHeader, kFeaturesRequired,
               "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure></stream:stream>"}));
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: starttls followed by a stanza in one write closes without proceed") {
    C2sSetup s;
    CHECK(s.refused(cat({kClientHeader, kStarttls, "<message><body>injected</body></message>"})) ==
          cat({kWardHeader, kFeaturesRequired}));
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: restricted XML and bad headers get their stream errors") {
    C2sSetup s;
    const std::string laughs =
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>"
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' "
        "version='1.0'>&lol2;";
    CHECK(s.refused(laughs) == cat({kWardHeader, error_text("restricted-xml")}));
    CHECK(s.refused(cat({kClientHeader, "<!-- hello -->"})) ==
          cat({kWardHeader, kFeaturesRequired, error_text("restricted-xml")}));
    CHECK(s.refused("<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.example/streams' "
                    "to='example.org' version='1.0'>") ==
          cat({"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
               "id='*' from='example.org' version='1.0'>",
               error_text("invalid-namespace")}));
    CHECK(s.refused("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                    "to='example.org'>") == cat({kWardHeader, error_text("unsupported-version")}));
    CHECK(s.refused("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                    "to='unknown.example' version='1.0'>") == cat({kWardHeader, error_text("host-unknown")}));
    CHECK(s.refused("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                    "to='example.org' version='1.0' pad='" + std::string(5000, 'x') + "'>") ==
          cat({kWardHeader, error_text("policy-violation")}));
    CHECK(s.refused("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n") == cat({kWardHeader, error_text("not-well-formed")}));
    // A TLS ClientHello on the STARTTLS port: record type 22, version 3.1.
    CHECK(s.refused(std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11)) ==
          cat({kWardHeader, error_text("not-well-formed")}));
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: handshake_timeout bounds the whole negotiation from accept - not each step") {
    // A client that advances just before each step's deadline would, with a budget per step,
    // hold its slot for several times handshake_timeout before ward touched the backend.
    constexpr auto kBudget = std::chrono::milliseconds(1500);
    constexpr auto kStep = kBudget * 6 / 10;
    C2sSetup s(true, "{ handshake_timeout: 1500ms }");
    const auto begin = std::chrono::steady_clock::now();
    const int fd = s.connect_plain();
    // Step 1, at 0.6 of the budget: header and <starttls/>; ward still answers.
    CHECK_FALSE(wait_closed(fd, kStep));
    REQUIRE(send_raw(fd, kClientHeader));
    CHECK(masked(read_raw_until(fd, "</stream:features>")) == cat({kWardHeader, kFeaturesRequired}));
    REQUIRE(send_raw(fd, kStarttls));
    CHECK(read_raw_until(fd, kProceed) == kProceed);
    // Step 2 would come at 1.2 of the budget: ward has closed by then, at the budget.
    const bool closed = wait_closed(
        fd, std::chrono::duration_cast<std::chrono::milliseconds>(begin + 2 * kStep - std::chrono::steady_clock::now()));
    const auto waited = std::chrono::steady_clock::now() - begin;
    ::close(fd);
    CHECK(closed);
    CHECK(waited >= kBudget - std::chrono::milliseconds(100));
    CHECK(waited < 2 * kStep);
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: a header that does not arrive in time gets connection-timeout") {
    C2sSetup s(true, "{ handshake_timeout: 300ms }");
    const int fd = s.connect_plain();
    REQUIRE(send_raw(fd, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "));
    std::string got;
    CHECK(wait_closed(fd, 10s, &got));
    ::close(fd);
    CHECK(masked(got) == cat({kWardHeader, error_text("connection-timeout")}));
}

TEST_CASE("xmpp c2s: after STARTTLS the header must repeat the domain and match the SNI") {
    C2sSetup s;
    const std::string other_header =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.example' "
        "version='1.0'>";
    const std::string other_ward_header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "id='*' from='other.example' version='1.0'>";
    {
        auto client = s.starttls("example.org");
        REQUIRE(client->send(other_header));
        std::string got;
        CHECK(client->wait_closed(10s, &got));
        CHECK(masked(got) == other_ward_header + error_text("host-unknown"));
    }
    {
        auto client = s.starttls("other.example");  // SNI differs from the header's 'to'
        REQUIRE(client->send(kClientHeader));
        std::string got;
        CHECK(client->wait_closed(10s, &got));
        CHECK(masked(got) == cat({kWardHeader, error_text("host-unknown")}));
    }
    CHECK(s.backend.connections() == 0);
}

TEST_CASE("xmpp c2s: an unreachable backend gets remote-connection-failed") {
    test::RefusingPort gone;
    C2sSetup s(true, "{ handshake_timeout: 5s }", gone.endpoint());
    auto client = s.starttls();
    REQUIRE(client->send(kClientHeader));
    std::string got;
    CHECK(client->wait_closed(10s, &got));
    CHECK(masked(got) == cat({kWardHeader, error_text("remote-connection-failed")}));
}

TEST_CASE("xmpp c2s: a backend stream error reaches the client and both sides close") {
    C2sSetup s;
    auto client = s.starttls();
    REQUIRE(client->send(kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    const std::string error = cat({kBackendHeader, "<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                                   "</stream:error></stream:stream>"});
    REQUIRE(s.backend.send(error));
    std::string got = client->read_until(kClose);
    CHECK(got == error);
}

TEST_CASE("xmpp c2s: secure mode off offers optional STARTTLS with the backend's features and relays plaintext") {
    C2sSetup s(false);
    const int fd = s.connect_plain();
    REQUIRE(send_raw(fd, kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    CHECK(read_raw_until(fd, "</stream:features>") ==
          cat({kBackendHeader,
               "<stream:features><starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/><mechanisms "
               "xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><mechanism>PLAIN</mechanism></mechanisms></stream:features>"}));
    const std::string auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>";
    REQUIRE(send_raw(fd, auth));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == cat({kClientHeader, auth}); }));
    REQUIRE(s.backend.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
    CHECK(read_raw_until(fd, "/>") == "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    ::close(fd);
}

TEST_CASE("xmpp c2s: secure mode off still does STARTTLS for a client that asks") {
    C2sSetup s(false);
    const int fd = s.connect_plain();
    REQUIRE(send_raw(fd, kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    read_raw_until(fd, "</stream:features>");
    REQUIRE(send_raw(fd, kStarttls));
    CHECK(read_raw_until(fd, kProceed) == kProceed);
    TlsClient client(fd, s.ctx.get(), "example.org", "");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send(kClientHeader));
    // A second backend connection carries the encrypted client's stream from its header.
    REQUIRE(s.backend.wait_until([&] { return s.backend.connections() == 2 && s.backend.received() == cat({kClientHeader, kClientHeader}); }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    CHECK(client.read_until("</stream:features>") == cat({kBackendHeader, kFeaturesAsPassed}));
}

TEST_CASE("xmpp c2s: reload changes the secure mode for new streams and keeps established ones") {
    C2sSetup s(true);
    auto established = s.starttls();
    s.open_through(*established);
    s.write_config(false, "{ handshake_timeout: 5s }", s.backend.endpoint());
    REQUIRE(s.ward->reload());
    // New streams: no <required/>, the backend answers.
    const int fd = s.connect_plain();
    REQUIRE(send_raw(fd, kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().ends_with(kClientHeader) && s.backend.connections() == 2; }));
    REQUIRE(s.backend.send(cat({kBackendHeader, kBackendFeatures})));
    CHECK(read_raw_until(fd, "</stream:features>").find("<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>") !=
          std::string::npos);
    ::close(fd);
    // The established stream still relays.
    REQUIRE(established->send("<presence/>"));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().find("<presence/>") != std::string::npos; }));
}

TEST_CASE("xmpp c2s: whitespace after starttls is dropped and TLS follows as go-xmpp expects") {
    C2sSetup s;
    const int fd = s.connect_plain();
    REQUIRE(send_raw(fd, kClientHeader));
    read_raw_until(fd, "</stream:features>");
    REQUIRE(send_raw(fd, std::string(kStarttls) + "\n"));
    CHECK(read_raw_until(fd, kProceed) == kProceed);
    REQUIRE(send_raw(fd, "\r\n"));  // more whitespace, in a segment of its own
    TlsClient client(fd, s.ctx.get(), "example.org", "");
    REQUIRE_MESSAGE(client.ok(), client.error());
    s.open_through(client);
}

TEST_CASE("xmpp c2s: a client that vanishes without close_notify closes the backend side normally") {
    C2sSetup s;
    auto client = s.starttls();
    s.open_through(*client);
    REQUIRE(client->send("<presence/>"));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received().ends_with("<presence/>"); }));
    // TCP FIN without a TLS close_notify: the relay passes the end on, the backend sees EOF.
    ::shutdown(client->fd(), SHUT_WR);
    CHECK(s.backend.wait_until([&] { return s.backend.peer_closed(); }));
    CHECK(s.backend.received() == cat({kClientHeader, "<presence/>"}));
}

TEST_CASE("xmpp c2s: a backend that accepts and never answers gets the client a stream error at handshake_timeout") {
    C2sSetup s(true, "{ handshake_timeout: 1s }");
    auto client = s.starttls();
    REQUIRE(client->send(kClientHeader));
    REQUIRE(s.backend.wait_until([&] { return s.backend.received() == kClientHeader; }));
    std::string got;
    const auto started = std::chrono::steady_clock::now();
    CHECK(client->wait_closed(10s, &got));
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    INFO(got);
    CHECK(masked(got).rfind(kWardHeader, 0) == 0);
    CHECK(got.find("<stream:error>") != std::string::npos);
    CHECK(got.ends_with("</stream:stream>"));
}

namespace {

// A stream through to the backend, which sends `bytes` (read whole by the client), then
// resets or closes: what the client gets after that, up to ward's close.
std::string after_backend_fault(const std::string& bytes, std::string_view until, bool reset) {
    C2sSetup s;
    auto client = s.starttls();
    s.open_through(*client);
    if (!bytes.empty()) {
        REQUIRE(s.backend.send(bytes));
        CHECK(client->read_until(until) == bytes);
    }
    if (reset) {
        s.backend.reset_last();
    } else {
        s.backend.close_last();
    }
    std::string got;
    CHECK(client->wait_closed(10s, &got));
    return got;
}

}  // namespace

TEST_CASE("xmpp c2s: a backend reset between stanzas ends the client's stream with remote-connection-failed") {
    CHECK(after_backend_fault("<message to='a@example.org'><body>one</body></message>", "</message>", true) ==
          error_text("remote-connection-failed"));
}

TEST_CASE("xmpp c2s: a backend that closes without ending its stream gets the client remote-connection-failed") {
    CHECK(after_backend_fault("", "", false) == error_text("remote-connection-failed"));
}

TEST_CASE("xmpp c2s: a backend that fails inside a stanza closes the client without an ill-formed error") {
    CHECK(after_backend_fault("<message to='a@example.org'><body>cut", "cut", true).empty());
}

TEST_CASE("xmpp c2s: a backend that ends its stream properly gets no error added") {
    CHECK(after_backend_fault(std::string(kClose), kClose, false).empty());
}
