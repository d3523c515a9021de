// SPDX-License-Identifier: Apache-2.0
// The TLS surface of the real ward binary as independent scanners and clients see it: sslscan
// and testssl against a context's protocol and cipher selection, openssl s_client and curl
// through a `tls` listener to a real HTTP server (Python's http.server).
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.hpp"
#include "tls/library.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundOptions;
using ward::test::BackgroundProcess;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

struct Setup {
    TempDir dir{"e2e-tls"};
    TestPki pki{dir.path() / "pki"};
};

// One TLS context's settings, as the scan tests select them (indented for a context body).
const std::string kScanSelection =
    "    ciphers: [TLS_AES_256_GCM_SHA384, ECDHE-ECDSA-AES128-GCM-SHA256]\n"
    "    min_version: TLS1.2\n";
const std::set<std::string> kSelected = {"TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"};

// sslscan's report, parsed: protocol -> "enabled"/"disabled", and the accepted ciphers.
struct SslscanReport {
    std::string text;
    std::map<std::string, std::string> protocols;
    std::set<std::string> ciphers;               // OpenSSL names
    std::map<std::string, std::string> cipher_versions;  // cipher -> protocol it was accepted with
};

SslscanReport sslscan(std::uint16_t port) {
    const auto r = ward::test::run_process(
        {"sslscan", "--no-colour", "--sni-name=server.test", "127.0.0.1:" + std::to_string(port)}, 60s);
    SslscanReport report{r.out + r.err, {}, {}, {}};
    REQUIRE_MESSAGE(r.exit_code == 0, report.text);
    static const std::regex protocol(R"((SSLv[23]|TLSv1\.[0-3]) +(enabled|disabled))");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), protocol), end; it != end; ++it)
        report.protocols[(*it)[1]] = (*it)[2];
    // "Preferred TLSv1.3  256 bits  TLS_AES_256_GCM_SHA384        Curve 25519 DHE 253"
    static const std::regex cipher(R"((?:Preferred|Accepted) +(\S+) +[0-9]+ bits +(\S+))");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), cipher), end; it != end; ++it) {
        report.ciphers.insert((*it)[2]);
        report.cipher_versions[(*it)[2]] = (*it)[1];
    }
    return report;
}

void check_protocols(const SslscanReport& report) {
    INFO(report.text);
    const std::map<std::string, std::string> expected = {{"SSLv2", "disabled"},   {"SSLv3", "disabled"},
                                                         {"TLSv1.0", "disabled"}, {"TLSv1.1", "disabled"},
                                                         {"TLSv1.2", "enabled"},  {"TLSv1.3", "enabled"}};
    CHECK(report.protocols == expected);
}

// No vulnerability line in sslscan's report: Heartbleed not vulnerable for each protocol,
// no insecure renegotiation.
void check_no_vulnerability(const SslscanReport& report) {
    INFO(report.text);
    CHECK(contains(report.text, "TLSv1.3 not vulnerable to heartbleed"));
    CHECK(contains(report.text, "TLSv1.2 not vulnerable to heartbleed"));
    static const std::regex vulnerable(R"((^|\n)[^\n]*(TLSv1\.[0-3]|SSLv3) vulnerable to heartbleed)");
    CHECK(!std::regex_search(report.text, vulnerable));
    CHECK(contains(report.text, "Session renegotiation not supported"));
    CHECK(!contains(report.text, "Insecure session renegotiation supported"));
    // The OpenSSL 3 that sslscan is linked with cannot test compression: testssl does that.
    CHECK(!contains(report.text, "Compression enabled"));
}

}  // namespace

TEST_CASE("tls e2e: sslscan and testssl see only TLS 1.2 and 1.3 - exactly the selected ciphers - no vulnerability") {
    Setup s;
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    // The same selection twice: a `sip` listener whose context requires a client certificate,
    // and a `tls` listener whose context asks for none. sslscan has no client certificate. On
    // the sip listener it still sees every protocol and the TLS 1.3 suites (it probes those with
    // its own ClientHello and reads the suite from the ServerHello), but it counts a TLS 1.2
    // cipher only when an OpenSSL handshake with it completes, and ward refuses the empty client
    // Certificate: the TLS 1.2 cipher list comes from the verify_peer: none twin.
    std::string yaml = ward::e2e::pki_sections({"peer-allowed.test"});
    yaml += "tls_contexts:\n"
            "  sip-peers:\n"
            "    certificate: server\n"
            "    trust_store: peers\n"
            "    peer_subjects: [peer-allowed.test]\n"
            "    verify_peer: required\n" + kScanSelection;
    yaml += "  open:\n"
            "    certificate: server\n"
            "    verify_peer: none\n" + kScanSelection;
    yaml += "listeners:\n"
            "  - name: sip-scan\n"
            "    protocol: sip\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [" + backend.endpoint() + "]\n"
            "    tls_context: sip-peers\n"
            "  - name: tls-scan\n"
            "    protocol: tls\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [" + backend.endpoint() + "]\n"
            "    tls_context: open\n";
    yaml += "limits: { handshake_timeout: 2s }\n"
            "metrics: { enabled: false }\n";
    const auto config = ward::e2e::write_config(s.dir.path(), yaml);
    WardProcess ward(config);
    INFO("ward log:\n" << ward.log());

    SUBCASE("sslscan against the sip listener") {
        auto report = sslscan(ward.port("sip-scan"));
        INFO(report.text);
        check_protocols(report);
        check_no_vulnerability(report);
        // What it can enumerate without a certificate: the TLS 1.3 suite, nothing unselected.
        CHECK(report.ciphers.count("TLS_AES_256_GCM_SHA384") == 1);
        for (const auto& c : report.ciphers) CHECK_MESSAGE(kSelected.count(c) == 1, c);
        CHECK(report.cipher_versions["TLS_AES_256_GCM_SHA384"] == "TLSv1.3");
        // Nothing reached the backend: no scan connection got past the handshake.
        CHECK(backend.connections() == 0);
    }
    SUBCASE("sslscan against the same selection without client certificates") {
        auto report = sslscan(ward.port("tls-scan"));
        INFO(report.text);
        check_protocols(report);
        check_no_vulnerability(report);
        CHECK(report.ciphers == kSelected);
        CHECK(report.cipher_versions["TLS_AES_256_GCM_SHA384"] == "TLSv1.3");
        CHECK(report.cipher_versions["ECDHE-ECDSA-AES128-GCM-SHA256"] == "TLSv1.2");
    }
    SUBCASE("testssl: no compression - Heartbleed - or client renegotiation on the sip listener") {
        // testssl drives its own sockets, so it tests TLS compression (CRIME), which the
        // sslscan build cannot; limited to those checks to stay fast.
        const auto r = ward::test::run_process({"testssl", "--quiet", "--color", "0", "--warnings", "off", "-C", "-H",
                                                "-R", "127.0.0.1:" + std::to_string(ward.port("sip-scan"))},
                                               90s);
        INFO(r.out << r.err);
        CHECK(r.exit_code == 0);
        CHECK(std::regex_search(r.out, std::regex(R"(Heartbleed \(CVE-2014-0160\) +not vulnerable \(OK\))")));
        CHECK(std::regex_search(r.out, std::regex(R"(CRIME, TLS \(CVE-2012-4929\) +not vulnerable \(OK\))")));
        // testssl cannot renegotiate as a client where a client certificate is required, and
        // says so; sslscan reported "Session renegotiation not supported" on both listeners.
        static const std::regex renegotiation(R"(Secure Client-Initiated Renegotiation +(not vulnerable \(OK\)|)"
                                              R"(client x509-based authentication prevents this from being tested))");
        CHECK(std::regex_search(r.out, renegotiation));
        CHECK(!std::regex_search(r.out, std::regex(R"(VULNERABLE|NOT ok)")));
    }
}

namespace {

// The openssl command makes a key and a certificate for CN=critical.test carrying an extension
// no one knows, marked critical, signed by `issuer` (self-signed without one): made outside ward,
// whose own PKI (and, in the wolfSSL flavour, the library) will not write or read such a thing.
ward::test::CertFiles critical_certificate(const fs::path& dir, const std::string& name, const ward::test::CertFiles* issuer,
                                     bool is_ca = false) {
    const auto key = dir / (name + ".key"), cert = dir / (name + ".pem"), ext = dir / (name + ".ext");
    ward::test::write_text_file(ext, is_ca ? "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                                           : "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
                                             "1.3.6.1.4.1.55555.1.1=critical,DER:05:00\n");
    auto run = [](const std::vector<std::string>& argv) {
        const auto r = ward::test::run_process(argv, 30s);
        REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    };
    const std::string subject = is_ca ? "/O=elsewhere/CN=untrusted CA " + name : "/O=ward/CN=critical.test";
    run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         key.string(), "-subj", subject, "-out", (dir / (name + ".csr")).string()});
    std::vector<std::string> sign = {"openssl", "x509", "-req", "-in", (dir / (name + ".csr")).string(), "-days", "2",
                                     "-extfile", ext.string(), "-out", cert.string()};
    if (issuer) {
        for (const auto& a : {std::string("-CA"), issuer->cert.string(), std::string("-CAkey"), issuer->key.string(),
                              std::string("-set_serial"), std::to_string(1000 + name.size())})
            sign.push_back(a);
    } else {
        sign.push_back("-key");
        sign.push_back(key.string());
    }
    run(sign);
    return {name, cert, key};
}

}  // namespace

TEST_CASE("tls e2e: a client certificate with an unknown critical extension is refused - pinned in the trust store or issued by the CA") {
    Setup s;
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const auto made = s.dir.path() / "made";
    fs::create_directories(made);
    // Pinned: issued by a CA ward does not trust, the leaf itself in the trust store (the case
    // where ward, not the library, accepts the certificate in the wolfSSL flavour).
    const auto elsewhere = critical_certificate(made, "elsewhere", nullptr, true);
    const auto pinned = critical_certificate(made, "pinned", &elsewhere);
    const auto pinned_in_store = s.pki.trust_dir() / "pinned.pem";
    fs::copy_file(pinned.cert, pinned_in_store);
    const auto issued = critical_certificate(made, "issued", &s.pki.ca());

    std::string yaml = ward::e2e::pki_sections({"critical.test"});
    yaml += "tls_contexts:\n"
            "  peers:\n"
            "    certificate: server\n"
            "    trust_store: peers\n"
            "    peer_subjects: [critical.test]\n"
            "    verify_peer: required\n";
    yaml += "listeners:\n"
            "  - name: in\n"
            "    protocol: tls\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [" + backend.endpoint() + "]\n"
            "    tls_context: peers\n";
    yaml += "metrics: { enabled: false }\n";
    const auto config = ward::e2e::write_config(s.dir.path(), yaml);
    std::vector<const ward::test::CertFiles*> refused = {&pinned, &issued};
    const auto checked = ward::test::run_process({ward::test::ward_binary(), "check", "-c", config.string()}, 30s);
    if (!ward::test::kLibrary.openssl) {
        // wolfSSL will not read the pinned certificate at all: `ward check` says so by the file
        // (it is never dropped in silence), and the rest is checked without it.
        CHECK(checked.exit_code == 78);
        CHECK_MESSAGE(contains(checked.err, "'" + pinned_in_store.string() + "': 1 of its 1 PEM certificates and CRLs cannot "
                                            "be read by " + ward::tls::tls_library_name()),
                      checked.err);
        fs::remove(pinned_in_store);
        refused = {&issued};
    } else {
        CHECK_MESSAGE(checked.exit_code == 0, checked.out << checked.err);
    }
    WardProcess ward(config);
    INFO("ward log:\n" << ward.log());
    for (const auto* cert : refused) {
        INFO(cert->cert.string());
        BackgroundOptions with_stdin;
        with_stdin.stdin_pipe = true;
        BackgroundProcess client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(ward.port("in")),
                                  "-servername", "server.test", "-CAfile", s.pki.ca().cert.string(), "-cert",
                                  cert->cert.string(), "-key", cert->key.string(), "-quiet"},
                                 with_stdin);
        client.write_stdin("through\n");
        INFO(client.describe());
        // s_client exits when ward refuses it; never an echo.
        CHECK(client.wait_exit(15s).has_value());
        CHECK_FALSE(contains(client.output(), "through"));
    }
    CHECK(ward.wait_for_log("refused in handshake"));
    CHECK(backend.connections() == 0);
}

TEST_CASE("tls e2e: openssl s_client and curl reach a real HTTP server through a tls listener") {
    Setup s;
    const auto www = s.dir.path() / "www";
    const std::string body = "hello from the backend through ward\n";
    ward::test::write_text_file(www / "hello.txt", body);
    BackgroundOptions in_www;
    in_www.cwd = www;
    BackgroundProcess http({"/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"}, in_www);
    const auto serving = http.wait_for_output(std::regex(R"(Serving HTTP on 127\.0\.0\.1 port ([0-9]+))"), 15s);
    REQUIRE_MESSAGE(serving.has_value(), http.describe());
    const auto http_port = serving->groups[1];

    std::string yaml = ward::e2e::pki_sections();
    yaml += "tls_contexts:\n"
            "  web:\n"
            "    certificate: server\n"
            "    verify_peer: none\n";
    yaml += "listeners:\n"
            "  - name: https\n"
            "    protocol: tls\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [127.0.0.1:" + http_port + "]\n"
            "    tls_context: web\n";
    yaml += "metrics: { enabled: false }\n";
    const auto config = ward::e2e::write_config(s.dir.path(), yaml);
    WardProcess ward(config);
    INFO("ward log:\n" << ward.log());
    INFO("http.server:\n" << http.output());
    const auto port = std::to_string(ward.port("https"));
    const auto ca = s.pki.ca().cert.string();

    SUBCASE("openssl s_client") {
        BackgroundOptions with_stdin;
        with_stdin.stdin_pipe = true;
        BackgroundProcess client({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", "server.test",
                                  "-CAfile", ca, "-verify_return_error", "-verify_hostname", "server.test", "-brief"},
                                 with_stdin);
        INFO(client.describe());
        // stdin stays open until the response is in: s_client would otherwise end the
        // connection at stdin's EOF.
        REQUIRE(client.write_stdin("GET /hello.txt HTTP/1.0\r\nHost: server.test\r\n\r\n"));
        CHECK(client.wait_for_output(body, 10s));
        client.close_stdin();
        // HTTP/1.0: the server closes after the response, ward passes the close on.
        CHECK(client.wait_exit(10s) == 0);
        const auto out = client.out();
        CHECK(out.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
        CHECK(contains(out, "\r\n\r\n" + body));
        const auto err = client.err();
        CHECK(contains(err, "Verification: OK"));
        CHECK(contains(err, "Verified peername: server.test"));
        CHECK(contains(err, "Protocol version: TLSv1.3"));
        CHECK(http.wait_for_output("\"GET /hello.txt HTTP/1.0\" 200", 5s));
    }
    SUBCASE("curl") {
        const auto r = ward::test::run_process({"curl", "-sS", "--cacert", ca, "--resolve",
                                                "server.test:" + port + ":127.0.0.1",
                                                "https://server.test:" + port + "/hello.txt"},
                                               30s);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == body);
        CHECK(http.wait_for_output("\"GET /hello.txt HTTP/1.1\" 200", 5s));
    }
    // Each request was one session, logged when it closed.
    CHECK(ward.wait_for_log(
        std::regex(R"(\[session\] [^\n]*https 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:[0-9]+ closed phase=relay)")));
}
