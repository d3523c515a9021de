// SPDX-License-Identifier: Apache-2.0
// The web-client secure mode with real software: prosody (Debian) serving BOSH and WebSocket on
// plain HTTP behind the ward binary's xmpp-web listener, and
//   - @xmpp/client (npm, in Node) logging in over wss:// through ward and exchanging messages
//     with python3-slixmpp on ward's c2s listener;
//   - Converse.js (npm) in Debian's chromium, driven by playwright-core, logging in over
//     WebSocket and over BOSH through ward, with screenshots of the roster and of a received
//     message (build/tests/web-screenshots);
//   - with verify_peer: required, a browser without a client certificate refused in the
//     handshake, and one whose certificate was imported with `ward cert import` let in.
// The scripts are tests/e2e/browser/xmpp_client.mjs and converse.mjs.
#include <doctest/doctest.h>

#include <regex>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/e2e/prosody.hpp"
#include "tests/support/xmpp_wire.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::e2e::kFixtures;
using ward::e2e::kPassword;
using ward::e2e::Prosody;
using ward::test::BackgroundProcess;
using ward::test::CertFiles;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

const std::string kPython = "/usr/bin/python3";  // Debian's, with slixmpp
const std::string kBrowserDir = WARD_BROWSER_DIR;
const fs::path kScreenshots = fs::path(WARD_BROWSER_DIR).parent_path() / "web-screenshots";
const std::string kDomain = "web.example";

// The domain's certificate, also naming 127.0.0.1: the browser reaches ward by address.
ward::ops::CertSpec server_spec() {
    auto spec = ward::test::xmpp_wire::server_spec({kDomain}, {kDomain});
    spec.ip_addresses = {"127.0.0.1"};
    return spec;
}

struct WebSetup {
    TempDir dir{"e2e-web"};
    TestPki pki{dir.path() / "pki"};
    CertFiles cert = pki.issue("xmpp", server_spec());
    Prosody prosody{dir.path() / "prosody", kDomain, {"alice", "bob"}, 1, 0, {{"alice", "bob"}}};
    std::uint16_t static_port = ward::test::reserve_port();  // converse's page; its origin is allowed
    fs::path config;
    std::unique_ptr<WardProcess> ward;

    explicit WebSetup(const std::string& verify = "none") {
        const std::string http = "127.0.0.1:" + std::to_string(prosody.http_port());
        const std::string c2s = "127.0.0.1:" + std::to_string(prosody.c2s_port());
        config = ward::e2e::write_config(
            dir.path(),
            "certificates: { xmpp: { cert: pki/xmpp.pem, key: pki/xmpp.key } }\n"
            "trust_stores: { xmpp-trust: { dir: trust } }\n"
            "tls_contexts:\n"
            "  c2s: { certificate: xmpp, verify_peer: none }\n"
            "  web: { certificate: xmpp, trust_store: xmpp-trust, verify_peer: " + verify + " }\n"
            "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
            "pid_file: ward.pid\n"
            "listeners:\n"
            "  - { name: c2s, protocol: xmpp-client, bind: '127.0.0.1:0', backends: ['" + c2s + "'], "
            "tls_context: c2s, xmpp: { domains: [" + kDomain + "] } }\n"
            "  - name: web\n    protocol: xmpp-web\n    bind: '127.0.0.1:0'\n    backends: ['" + http + "']\n"
            "    tls_context: web\n    xmpp:\n      domains: [" + kDomain + "]\n"
            "      web: { allowed_origins: ['http://127.0.0.1:" + std::to_string(static_port) + "'] }\n");
        fs::create_directories(dir.path() / "trust");
        ward = std::make_unique<WardProcess>(config);
    }

    std::uint16_t web_port() const { return ward->port("web"); }
    std::string wss() const { return "wss://127.0.0.1:" + std::to_string(web_port()) + "/xmpp-websocket"; }
    std::string bosh() const { return "https://127.0.0.1:" + std::to_string(web_port()) + "/http-bind"; }
    fs::path ca() const { return pki.ca().cert; }

    // slixmpp on the c2s listener (STARTTLS), with `extra` arguments.
    std::vector<std::string> slixmpp(const std::string& user, std::vector<std::string> extra) const {
        std::vector<std::string> argv{kPython, (kFixtures / "slixmpp_client.py").string(), "--jid", user + "@" + kDomain,
                                      "--password", kPassword, "--port", std::to_string(ward->port("c2s")),
                                      "--starttls", "--ca", ca().string(), "--timeout", "30"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    // @xmpp/client in Node over wss:// through ward.
    std::vector<std::string> node_client(const std::string& user, std::vector<std::string> extra) const {
        std::vector<std::string> argv{"node", kBrowserDir + "/xmpp_client.mjs", "--service", wss(), "--domain", kDomain,
                                      "--username", user, "--password", kPassword, "--ca", ca().string(),
                                      "--servername", kDomain, "--timeout-ms", "30000"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    // Converse.js in chromium, as alice; the server certificate is trusted by its key (the
    // leaf's: ward sends no CA).
    std::vector<std::string> converse(const std::string& transport, const std::string& shots,
                                      std::vector<std::string> extra) const {
        std::vector<std::string> argv{"node", kBrowserDir + "/converse.mjs", "--static-port", std::to_string(static_port),
                                      "--transport", transport, "--service", transport == "ws" ? wss() : bosh(),
                                      "--jid", "alice@" + kDomain, "--password", kPassword,
                                      "--screenshot-dir", (kScreenshots / shots).string(), "--timeout-ms", "60000"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }
};

// ward's metrics, scraped with curl.
std::string metrics_of(const WardProcess& ward) {
    const auto r = ward::test::run_process(
        {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(ward.metrics_port()) + "/metrics"}, 20s);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
}

std::unique_ptr<BackgroundProcess> start(const std::vector<std::string>& argv, const std::string& ready) {
    auto p = std::make_unique<BackgroundProcess>(argv);
    REQUIRE_MESSAGE(p->started(), p->describe());
    REQUIRE_MESSAGE(p->wait_for_output(ready, 60s), p->describe());
    return p;
}

}  // namespace

TEST_CASE("e2e web: @xmpp/client over wss through ward and slixmpp on c2s exchange messages both ways") {
    WebSetup s;
    // The Node client waits for slixmpp's message; slixmpp waits for the Node client's.
    auto bob = start(s.node_client("bob", {"--expect-from", "alice@" + kDomain, "--expect-body", "hello over c2s",
                                           "--send-to", "alice@" + kDomain, "--body", "hello over wss"}),
                     "\"event\":\"online\"");
    const auto alice = ward::test::run_process(
        s.slixmpp("alice", {"--send-to", "bob@" + kDomain, "--body", "hello over c2s", "--expect", "hello over wss"}), 60s);
    CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err << "\nward:\n" << s.ward->log());
    CHECK(contains(alice.out, "RECEIVED hello over wss"));
    REQUIRE_MESSAGE(bob->wait_exit(40s) == 0, bob->describe() << "\nward:\n" << s.ward->log());
    CHECK(contains(bob->out(), "\"body\":\"hello over c2s\""));
    // ward relayed it as a WebSocket over TLS, and prosody saw the client's address and HTTPS.
    // (However the client ended it: a close frame, then the TCP close, or a reset.)
    CHECK_MESSAGE(s.ward->wait_for_log(std::regex(R"(web 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ .* phase=relay .*tls=TLSv1\.3)"), 20s),
                  s.ward->log());
    const auto metrics = metrics_of(*s.ward);
    CHECK(contains(metrics, "ward_web_events_total{listener=\"web\",protocol=\"xmpp-web\",event=\"upgrade\"} 1"));
}

TEST_CASE("e2e web: Converse.js in chromium logs in through ward over WebSocket and over BOSH and receives a message") {
    WebSetup s;
    for (const std::string transport : {"ws", "bosh"}) {
        INFO(transport);
        const std::string body = "to converse over " + transport;
        auto browser = start(s.converse(transport, transport,
                                        {"--ca", s.cert.cert.string(), "--expect-contact", "bob@" + kDomain,
                                         "--expect-from", "bob@" + kDomain, "--expect-body", body}),
                             "\"event\":\"online\"");
        const auto bob = ward::test::run_process(s.slixmpp("bob", {"--send-to", "alice@" + kDomain, "--body", body}), 60s);
        CHECK_MESSAGE(bob.exit_code == 0, bob.out << bob.err);
        REQUIRE_MESSAGE(browser->wait_exit(60s) == 0, browser->describe() << "\nward:\n" << s.ward->log());
        CHECK(contains(browser->out(), "\"event\":\"contact\""));
        CHECK(contains(browser->out(), "\"event\":\"received\""));
        CHECK(fs::exists(kScreenshots / transport / "roster.png"));
        CHECK(fs::exists(kScreenshots / transport / "message.png"));
    }
    const auto metrics = metrics_of(*s.ward);
    CHECK(contains(metrics, "ward_web_events_total{listener=\"web\",protocol=\"xmpp-web\",event=\"bosh_session\"} 1"));
    // No request was refused on the way.
    CHECK_FALSE(std::regex_search(metrics, std::regex(R"(ward_web_refusals_total\{[^}]*\} [1-9])")));
}

TEST_CASE("e2e web: with verify_peer required a browser without a certificate is refused and an imported one gets in") {
    WebSetup s("required");
    // No client certificate: refused in the TLS handshake, over WebSocket and over BOSH.
    for (const std::string transport : {"ws", "bosh"}) {
        INFO(transport);
        const auto refused = ward::test::run_process(
            s.converse(transport, "refused-" + transport, {"--ca", s.cert.cert.string(), "--expect-refused"}), 90s);
        CHECK_MESSAGE(refused.exit_code == 0, refused.out << refused.err);
        CHECK(contains(refused.out, "\"event\":\"refused\""));
    }
    CHECK(s.ward->wait_for_log("refused in handshake"));
    // A certificate from another CA, imported into the XMPP trust store (the guide's "upload
    // the web client's certificate"), then a reload.
    TestPki browser_pki(s.dir.path() / "browser-pki");
    const auto browser = browser_pki.issue("browser", TestPki::client_spec("alice-browser"));
    const auto imported = ward::test::run_process({ward::test::ward_binary(), "cert", "import", "-c", s.config.string(),
                                                   "--store", "xmpp-trust", browser.cert.string()});
    REQUIRE_MESSAGE(imported.exit_code == 0, imported.out << imported.err);
    const auto reloaded = ward::test::run_process({ward::test::ward_binary(), "reload", "-c", s.config.string()});
    REQUIRE_MESSAGE(reloaded.exit_code == 0, reloaded.out << reloaded.err);
    REQUIRE(s.ward->wait_for_log("reloaded"));
    // The same browser with that certificate.
    auto in = start(s.converse("ws", "client-cert",
                               {"--ca", s.ca().string(), "--client-cert", browser.cert.string(), "--client-key",
                                browser.key.string(), "--expect-contact", "bob@" + kDomain}),
                    "\"event\":\"online\"");
    REQUIRE_MESSAGE(in->wait_exit(60s) == 0, in->describe() << "\nward:\n" << s.ward->log());
    CHECK(s.ward->wait_for_log(std::regex(R"(web 127\.0\.0\.1:\d+ -> .* peer_subject=alice-browser)"), 20s));
}
