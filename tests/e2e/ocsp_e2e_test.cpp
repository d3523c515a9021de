// SPDX-License-Identifier: Apache-2.0
// OCSP with a real responder: `openssl ocsp` serving an index made for a CA of the test's own
// (certificates with an Authority Information Access URL pointing at it, a delegated responder
// certificate). ward staples its certificate's status (seen by `openssl s_client -status` and by
// testssl), refreshes it, keeps the last good one while the responder is away; and checks
// peers' client certificates: a revoked one refused with `ocsp: require`, a good one let in, an
// unknown one refused, and with `ocsp: prefer` a peer let in (and counted) when the responder
// does not answer.
#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundOptions;
using ward::test::BackgroundProcess;
using ward::test::TempDir;
using ward::test::WardProcess;

void openssl(const std::vector<std::string>& args, const fs::path& cwd) {
    std::vector<std::string> argv{"sh", "-c", "cd \"$0\" && exec openssl \"$@\"", cwd.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = ward::test::run_process(argv, 30s);
    REQUIRE_MESSAGE(r.exit_code == 0, "openssl " << args.front() << ": " << r.out << r.err);
}

// A CA, a delegated OCSP responder, and an index the responder answers from: serial 1001 the
// server, 1002 good.test, 1003 revoked.test (revoked), 1004 stranger.test (not in the index).
struct OcspPki {
    TempDir dir{"e2e-ocsp"};
    fs::path pki = dir.path() / "pki";

    OcspPki() {
        fs::create_directories(pki / "trust");
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 "ca.key", "-out", "ca.pem", "-subj", "/CN=ward OCSP test CA", "-days", "30", "-addext",
                 "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
                pki);
        fs::copy_file(pki / "ca.pem", pki / "trust" / "ca.pem");
        issue("responder", "/CN=ward OCSP responder", "1000", "extendedKeyUsage=OCSPSigning\n");
        // Revoked a minute ago; the index's dates are UTC YYMMDDHHMMSSZ.
        ward::test::write_text_file(pki / "index.txt",
                                    "V\t301231000000Z\t\t1001\tunknown\t/CN=server.test\n"
                                    "V\t301231000000Z\t\t1002\tunknown\t/CN=good.test\n"
                                    "R\t301231000000Z\t260101000000Z,keyCompromise\t1003\tunknown\t/CN=revoked.test\n");
    }

    // A leaf for `subject`, EC P-256, signed by the CA, with `extensions` (an openssl extfile body).
    void issue(const std::string& name, const std::string& subject, const std::string& serial,
               const std::string& extensions) {
        ward::test::write_text_file(pki / (name + ".ext"), extensions);
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
                 "-out", name + ".csr", "-subj", subject},
                pki);
        openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
                 "0x" + serial, "-days", "20", "-extfile", name + ".ext", "-out", name + ".pem"},
                pki);
    }

    // <name>-chain.pem: the leaf, then its issuer (a stapling request names the issuer's key).
    void write_chain(const std::string& name) {
        ward::test::write_text_file(pki / (name + "-chain.pem"), ward::test::read_text_file(pki / (name + ".pem")) +
                                                                     ward::test::read_text_file(pki / "ca.pem"));
    }

    void issue_with_aia(const std::string& name, const std::string& cn, const std::string& serial, const std::string& eku,
                        std::uint16_t responder_port) {
        issue(name, "/CN=" + cn, serial,
              "subjectAltName=DNS:" + cn + "\nextendedKeyUsage=" + eku +
                  "\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:" + std::to_string(responder_port) + "/\n");
    }
};

// `openssl ocsp` as a responder on a port of its choosing; -nmin 1: nextUpdate a minute ahead.
struct Responder {
    BackgroundProcess process;
    std::uint16_t port = 0;
    explicit Responder(const fs::path& pki)
        // stdbuf: openssl writes its -text through stdio, which holds a pipe's output in a 4 KiB
        // buffer; unbuffered, each request is in output() once the responder has answered it.
        : process({"stdbuf", "-o0", "-e0", "openssl", "ocsp", "-index", (pki / "index.txt").string(), "-port", "0", "-rsigner",
                   (pki / "responder.pem").string(), "-rkey", (pki / "responder.key").string(), "-CA",
                   (pki / "ca.pem").string(), "-nmin", "1", "-text"}) {
        const auto accept = process.wait_for_output(std::regex(R"(ACCEPT \S+:([0-9]+))"), 15s);
        REQUIRE_MESSAGE(accept.has_value(), process.describe());
        port = static_cast<std::uint16_t>(std::stoi(accept->groups[1]));
    }
    std::size_t requests() const {
        std::size_t n = 0;
        const auto text = process.output();
        for (auto at = text.find("OCSP Request Data:"); at != std::string::npos; at = text.find("OCSP Request Data:", at + 1))
            ++n;
        return n;
    }
    // Waits until the responder has printed at least `n` requests; false at the deadline.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds deadline) {
        std::size_t from = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto m = process.wait_for_output("OCSP Request Data:", deadline, from);
            if (!m) return false;
            from = m->end;
        }
        return true;
    }
};

// `openssl s_client -status` against a listener: its output.
std::string s_client_status(std::uint16_t port, const fs::path& ca) {
    const auto r = ward::test::run_process({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                            "-servername", "server.test", "-CAfile", ca.string(), "-status"},
                                           20s);
    return r.out + r.err;
}

std::string this_update(const std::string& s_client_output) {
    std::smatch m;
    static const std::regex re(R"(This Update: ([^\n]+))");
    return std::regex_search(s_client_output, m, re) ? m[1].str() : std::string();
}

// A client with a certificate sends a line through a listener whose backend echoes it: true when
// the echo came back (ward let the peer in), false when ward closed the connection instead.
bool echoed_through(std::uint16_t port, const fs::path& pki, const std::string& name) {
    BackgroundOptions with_stdin;
    with_stdin.stdin_pipe = true;
    BackgroundProcess client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
                              "server.test", "-CAfile", (pki / "ca.pem").string(), "-cert",
                              (pki / (name + ".pem")).string(), "-key", (pki / (name + ".key")).string(), "-quiet"},
                             with_stdin);
    client.write_stdin("ward-ocsp-" + name + "\n");
    // An echo, or the end of the connection: s_client exits when ward closes it.
    const auto seen = client.wait_for_output("ward-ocsp-" + name, 10s);
    INFO(client.describe());
    return seen.has_value();
}

std::string metrics_of(const WardProcess& ward) {
    const auto r = ward::test::run_process(
        {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(ward.metrics_port()) + "/metrics"}, 15s);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
}

std::uint64_t metric(const std::string& text, const std::string& series) {
    const auto at = text.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("ocsp e2e: ward staples its certificate's status - refreshes it - and keeps the last good one while the responder is away" *
          doctest::skip(!ward::tls::flavour::kOcsp)) {
    OcspPki p;
    auto responder = std::make_unique<Responder>(p.pki);
    p.issue_with_aia("server", "server.test", "1001", "serverAuth", responder->port);
    p.write_chain("server");
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const std::string yaml =
        "certificates:\n"
        "  server: { cert: pki/server-chain.pem, key: pki/server.key }\n"
        "tls_contexts:\n"
        "  stapled:\n"
        "    certificate: server\n"
        "    verify_peer: none\n"
        "    ocsp: { staple: true, refresh: 2s }\n"
        "listeners:\n"
        "  - name: edge\n"
        "    protocol: tls\n"
        "    bind: 127.0.0.1:0\n"
        "    backends: [" + backend.endpoint() + "]\n"
        "    tls_context: stapled\n"
        "metrics: { enabled: true, bind: 127.0.0.1:0 }\n";
    WardProcess ward(ward::e2e::write_config(p.dir.path(), yaml));
    INFO("ward log:\n" << ward.log());
    const auto port = ward.port("edge");

    // Fetched before the listener opened: the first client already gets it.
    const auto first = s_client_status(port, p.pki / "ca.pem");
    INFO(first);
    CHECK(contains(first, "OCSP Response Status: successful"));
    CHECK(contains(first, "Cert Status: good"));
    CHECK(contains(first, "Responder Id: CN = ward OCSP responder"));
    const auto first_update = this_update(first);
    REQUIRE(!first_update.empty());

    SUBCASE("refreshed every 2s: a newer response is stapled") {
        const auto before = responder->requests();
        std::string later;
        for (int i = 0; i < 5 && (later.empty() || this_update(later) == first_update); ++i) {
            // The responder's next request from ward, then what the next client is stapled.
            REQUIRE(responder->process.wait_for_output("OCSP Request Data:", 15s, responder->process.output().size()));
            later = s_client_status(port, p.pki / "ca.pem");
        }
        INFO(later);
        CHECK(responder->requests() > before);
        CHECK(contains(later, "Cert Status: good"));
        CHECK(this_update(later) != first_update);
        const auto metrics = metrics_of(ward);
        CHECK(metric(metrics, R"(ward_tls_ocsp_staple_total{context="stapled",event="fetched"})") >= 2);
        CHECK(metric(metrics, R"(ward_tls_ocsp_staple_total{context="stapled",event="stapled"})") >= 2);
    }
    SUBCASE("responder stopped: the fetch fails - is counted - and the last good response is still stapled") {
        const auto from = ward.log().size();
        responder.reset();  // SIGTERM, reaped
        REQUIRE(ward.wait_for_log("no OCSP response for certificate 'server'", 15s, from));
        const auto after = s_client_status(port, p.pki / "ca.pem");
        INFO(after);
        CHECK(contains(after, "Cert Status: good"));
        CHECK(this_update(after) == first_update);
        const auto metrics = metrics_of(ward);
        CHECK(metric(metrics, R"(ward_tls_ocsp_staple_total{context="stapled",event="fetch_failed"})") >= 1);
    }
    SUBCASE("testssl reports OCSP stapling offered") {
        const auto r = ward::test::run_process({"testssl", "--quiet", "--color", "0", "--warnings", "off", "-S",
                                                "127.0.0.1:" + std::to_string(port)},
                                               180s);
        INFO(r.out << r.err);
        CHECK(std::regex_search(r.out, std::regex(R"(OCSP stapling +offered)")));
        CHECK(std::regex_search(r.out, std::regex(R"(OCSP URI +http://127\.0\.0\.1:)")));
    }
}

TEST_CASE("ocsp e2e: peers' certificates - revoked refused - good let in - unknown refused - prefer lets in when the responder is away" *
          doctest::skip(!ward::tls::flavour::kOcsp)) {
    OcspPki p;
    Responder responder(p.pki);
    p.issue_with_aia("server", "server.test", "1001", "serverAuth", responder.port);
    p.issue_with_aia("good", "good.test", "1002", "clientAuth", responder.port);
    p.issue_with_aia("revoked", "revoked.test", "1003", "clientAuth", responder.port);
    p.issue_with_aia("stranger", "stranger.test", "1004", "clientAuth", responder.port);
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const auto nobody = ward::test::reserve_port();  // nothing listens there
    const std::string yaml =
        "certificates:\n"
        "  server: { cert: pki/server.pem, key: pki/server.key }\n"
        "trust_stores:\n"
        "  ocsp-ca: { dir: pki/trust }\n"
        "tls_contexts:\n"
        "  require:\n"
        "    certificate: server\n"
        "    trust_store: ocsp-ca\n"
        "    revocation: { ocsp: require, timeout: 2s }\n"
        "  prefer:\n"
        "    certificate: server\n"
        "    trust_store: ocsp-ca\n"
        "    revocation: { ocsp: prefer, timeout: 2s, responder_override: 'http://127.0.0.1:" +
        std::to_string(nobody) + "/' }\n"
        "listeners:\n"
        "  - { name: strict, protocol: tls, bind: 127.0.0.1:0, backends: [" + backend.endpoint() +
        "], tls_context: require }\n"
        "  - { name: lenient, protocol: tls, bind: 127.0.0.1:0, backends: [" + backend.endpoint() +
        "], tls_context: prefer }\n"
        "limits: { handshake_timeout: 5s }\n"
        "metrics: { enabled: true, bind: 127.0.0.1:0 }\n";
    WardProcess ward(ward::e2e::write_config(p.dir.path(), yaml));
    INFO("ward log:\n" << ward.log());
    INFO("responder:\n" << responder.process.output());

    CHECK(echoed_through(ward.port("strict"), p.pki, "good"));
    CHECK_FALSE(echoed_through(ward.port("strict"), p.pki, "revoked"));
    CHECK(ward.wait_for_log("is revoked by its OCSP responder: revoked (keyCompromise)", 5s));
    CHECK_FALSE(echoed_through(ward.port("strict"), p.pki, "stranger"));
    CHECK(ward.wait_for_log("no OCSP answer vouches for peer certificate CN=stranger.test", 5s));
    // Answers are cached: the good peer again costs the responder nothing.
    CHECK(responder.wait_for_requests(3, 5s));
    CHECK(echoed_through(ward.port("strict"), p.pki, "good"));

    // prefer, with a responder that refuses connections: let in, and counted.
    CHECK(echoed_through(ward.port("lenient"), p.pki, "good"));
    CHECK(echoed_through(ward.port("lenient"), p.pki, "revoked"));  // nobody could say otherwise

    const auto metrics = metrics_of(ward);
    INFO(metrics);
    CHECK(metric(metrics, R"(ward_tls_peer_revocation_total{context="require",result="good"})") == 2);
    CHECK(metric(metrics, R"(ward_tls_peer_revocation_total{context="require",result="revoked"})") == 1);
    CHECK(metric(metrics, R"(ward_tls_peer_revocation_total{context="require",result="unknown"})") == 1);
    CHECK(metric(metrics, R"(ward_tls_peer_revocation_total{context="prefer",result="unavailable"})") == 2);
    CHECK(metric(metrics, R"(ward_tls_peer_revocation_soft_fail_total{context="prefer"})") == 2);
    CHECK(backend.connections() == 4);  // the refused peers never reached it
    CHECK(responder.requests() == 3);   // one per peer: the second good one was answered from the cache
}

TEST_CASE("ocsp e2e: a must-staple certificate - ward does not start without a response - starts with one" *
          doctest::skip(!ward::tls::flavour::kOcsp)) {
    OcspPki p;
    auto responder = std::make_unique<Responder>(p.pki);
    p.issue("server", "/CN=server.test", "1001",
            "subjectAltName=DNS:server.test\nextendedKeyUsage=serverAuth\ntlsfeature=status_request\n"
            "authorityInfoAccess=OCSP;URI:http://127.0.0.1:" + std::to_string(responder->port) + "/\n");
    p.write_chain("server");
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const std::string yaml =
        "certificates:\n"
        "  server: { cert: pki/server-chain.pem, key: pki/server.key }\n"
        "tls_contexts:\n"
        "  stapled: { certificate: server, verify_peer: none, ocsp: { staple: true } }\n"
        "listeners:\n"
        "  - { name: edge, protocol: tls, bind: 127.0.0.1:0, backends: [" + backend.endpoint() +
        "], tls_context: stapled }\n"
        "metrics: { enabled: false }\n";
    const auto config = ward::e2e::write_config(p.dir.path(), yaml);
    {
        WardProcess ward(config);
        INFO(ward.log());
        const auto stapled = s_client_status(ward.port("edge"), p.pki / "ca.pem");
        INFO(stapled);
        CHECK(contains(stapled, "Cert Status: good"));
    }
    responder.reset();
    const auto r = ward::test::run_process({ward::test::ward_binary(), "run", "-c", config.string()}, 30s);
    INFO(r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK(contains(r.out + r.err, "certificate 'server' is must-staple and no valid OCSP response was had from http://127.0.0.1:"));
    CHECK_FALSE(contains(r.out + r.err, "ward started"));
}
