// SPDX-License-Identifier: Apache-2.0
// XMPP through the real ward binary with real, independent XMPP software: prosody (Debian) as
// the plaintext backend, python3-slixmpp and go-sendxmpp as clients, `openssl s_client
// -starttls xmpp`, and two prosody servers federating through two wards with mutual TLS.
//
//   slixmpp / go-sendxmpp / s_client --(STARTTLS or Direct TLS)--> ward --(plaintext)--> prosody
//   prosody A -> ward A (xmpp-server-outbound) --(STARTTLS, mutual TLS)--> ward B (xmpp-server) -> prosody B
//
// The fixtures (prosody configuration template, slixmpp client, DNS stub for federation) are
// in tests/e2e/xmpp/, with their README.
#include <doctest/doctest.h>

#include <csignal>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/xmpp_wire.hpp"
#include "tests/e2e/prosody.hpp"

namespace {

namespace fs = std::filesystem;
using ward::e2e::kFixtures;
using ward::e2e::kPassword;
using ward::e2e::Prosody;
using ward::e2e::replace_all;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundOptions;
using ward::test::BackgroundProcess;
using ward::test::CertFiles;
using ward::test::ProcessResult;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

const std::string kPython = "/usr/bin/python3";  // Debian's, with slixmpp

ward::ops::CertSpec domain_spec(const std::string& domain) {
    return ward::test::xmpp_wire::server_spec({domain}, {domain});
}

// The slixmpp fixture as a process: `mode` is --starttls, --direct-tls or --plain.
std::vector<std::string> slixmpp(const std::string& jid, std::uint16_t port, const std::string& mode,
                                 const fs::path& ca, std::vector<std::string> extra) {
    std::vector<std::string> argv{kPython, (kFixtures / "slixmpp_client.py").string(), "--jid", jid, "--password",
                                  kPassword, "--port", std::to_string(port), mode, "--timeout", "20"};
    if (!ca.empty()) argv.insert(argv.end(), {"--ca", ca.string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

// A receiver waiting for `body`, logged in and ready before this returns.
std::unique_ptr<BackgroundProcess> receiver(const std::string& jid, std::uint16_t port, const std::string& mode,
                                            const fs::path& ca, const std::string& body) {
    auto p = std::make_unique<BackgroundProcess>(slixmpp(jid, port, mode, ca, {"--expect", body}));
    REQUIRE_MESSAGE(p->started(), p->describe());
    REQUIRE_MESSAGE(p->wait_for_output("READY", 30s), p->describe());
    return p;
}

struct C2sSetup {
    TempDir dir{"e2e-xmpp"};
    TestPki pki{dir.path() / "pki"};
    CertFiles cert = pki.issue("xmpp-a", domain_spec("a.example"));
    Prosody prosody{dir.path() / "prosody", "a.example", {"alice", "bob"}};
    std::unique_ptr<WardProcess> ward;

    explicit C2sSetup(bool secure = true) {
        const std::string backend = "127.0.0.1:" + std::to_string(prosody.c2s_port());
        const auto file = ward::e2e::write_config(
            dir.path(),
            "certificates: { xmpp: { cert: pki/xmpp-a.pem, key: pki/xmpp-a.key } }\n"
            "tls_contexts:\n  c2s: { certificate: xmpp, verify_peer: none }\n"
            "security: { xmpp: { client_to_node_secure: " + std::string(secure ? "true" : "false") + " } }\n"
            "metrics: { enabled: false }\n"
            "listeners:\n"
            "  - { name: c2s, protocol: xmpp-client, bind: '127.0.0.1:0', backends: ['" + backend + "'], "
            "tls_context: c2s, xmpp: { domains: [a.example] } }\n"
            "  - { name: c2s-tls, protocol: xmpp-client-tls, bind: '127.0.0.1:0', backends: ['" + backend + "'], "
            "tls_context: c2s, xmpp: { domains: [a.example] } }\n");
        ward = std::make_unique<WardProcess>(file);
    }

    fs::path ca() const { return pki.ca().cert; }
};

}  // namespace

TEST_CASE("e2e xmpp: two slixmpp clients exchange a message through ward over STARTTLS and over Direct TLS") {
    C2sSetup s;
    for (const auto& [mode, listener] : std::vector<std::pair<std::string, std::string>>{{"--starttls", "c2s"},
                                                                                         {"--direct-tls", "c2s-tls"}}) {
        INFO(mode);
        const auto port = s.ward->port(listener);
        const std::string body = "through ward " + mode;
        auto bob = receiver("bob@a.example", port, mode, s.ca(), body);
        const auto alice = ward::test::run_process(
            slixmpp("alice@a.example", port, mode, s.ca(), {"--send-to", "bob@a.example", "--body", body}), 40s);
        CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err);
        CHECK(contains(alice.out, mode == "--direct-tls" ? "alpn=xmpp-client" : "tls=TLSv1.3"));
        REQUIRE_MESSAGE(bob->wait_exit(30s) == 0, bob->describe());
        CHECK(contains(bob->out(), "RECEIVED " + body));
    }
    // ward logged the sessions it relayed, TLS 1.3, on both listeners.
    CHECK(s.ward->wait_for_log(std::regex(R"(c2s 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ closed phase=relay .* tls=TLSv1\.3)")));
    CHECK(s.ward->wait_for_log(std::regex(R"(c2s-tls 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ closed phase=relay .* tls=TLSv1\.3)")));
}

TEST_CASE("e2e xmpp: a client that does not trust ward's certificate for the domain refuses it") {
    C2sSetup s;
    TestPki other(s.dir.path() / "other-pki");
    const auto r = ward::test::run_process(
        slixmpp("alice@a.example", s.ward->port("c2s"), "--starttls", other.ca().cert, {}), 40s);
    CHECK(r.exit_code != 0);
    CHECK(contains(r.out, "FAIL"));
}

TEST_CASE("e2e xmpp: go-sendxmpp sends through ward over STARTTLS and Direct TLS") {
    C2sSetup s;
    for (const auto& [flags, listener] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{}, "c2s"}, {{"-t"}, "c2s-tls"}}) {
        INFO(listener);
        const auto port = s.ward->port(listener);
        const std::string body = "go-sendxmpp via " + listener;
        auto bob = receiver("bob@a.example", port, listener == "c2s" ? "--starttls" : "--direct-tls", s.ca(), body);
        const auto message = s.dir.path() / ("message-" + listener + ".txt");
        ward::test::write_text_file(message, body + "\n");
        std::vector<std::string> argv{"env", "SSL_CERT_FILE=" + s.ca().string(), "HOME=" + s.dir.path().string(),
                                      "go-sendxmpp"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.insert(argv.end(), {"-u", "alice@a.example", "-p", kPassword, "-j",
                                 "127.0.0.1:" + std::to_string(port), "-m", message.string(), "bob@a.example"});
        const auto sent = ward::test::run_process(argv, 40s);
        CHECK_MESSAGE(sent.exit_code == 0, sent.out << sent.err);
        REQUIRE_MESSAGE(bob->wait_exit(30s) == 0, bob->describe() << "\nward:\n" << s.ward->log());
        CHECK(contains(bob->out(), "RECEIVED " + body));
    }
}

TEST_CASE("e2e xmpp: openssl s_client -starttls xmpp verifies ward and reaches prosody") {
    C2sSetup s;
    BackgroundOptions o;
    o.stdin_pipe = true;
    BackgroundProcess client({"openssl", "s_client", "-starttls", "xmpp", "-xmpphost", "a.example", "-connect",
                              "127.0.0.1:" + std::to_string(s.ward->port("c2s")), "-CAfile", s.ca().string(),
                              "-verify_hostname", "a.example", "-verify_return_error", "-servername", "a.example",
                              "-ign_eof"},
                             o);
    REQUIRE_MESSAGE(client.wait_for_output("Verify return code: 0 (ok)", 20s), client.describe());
    // The restarted stream, over TLS: prosody answers with its SASL mechanisms.
    REQUIRE(client.write_stdin("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                               "to='a.example' version='1.0'>\n"));
    CHECK_MESSAGE(client.wait_for_output("<mechanism>SCRAM-SHA-1</mechanism>", 20s), client.describe());
    CHECK_FALSE(contains(client.out(), "urn:ietf:params:xml:ns:xmpp-tls'><required"));  // only before TLS
    client.close_stdin();
}

TEST_CASE("e2e xmpp: with client_to_node_secure off a plaintext client logs in and chats through ward") {
    C2sSetup s(false);
    const auto port = s.ward->port("c2s");
    auto bob = receiver("bob@a.example", port, "--plain", {}, "in the clear");
    const auto alice = ward::test::run_process(
        slixmpp("alice@a.example", port, "--plain", {}, {"--send-to", "bob@a.example", "--body", "in the clear"}), 40s);
    CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err);
    CHECK(contains(alice.out, "tls=none"));
    REQUIRE_MESSAGE(bob->wait_exit(30s) == 0, bob->describe());
    // And STARTTLS is still offered and works.
    auto carol = ward::test::run_process(slixmpp("alice@a.example", port, "--starttls", s.ca(), {}), 40s);
    CHECK_MESSAGE(carol.exit_code == 0, carol.out << carol.err);
}

namespace {

// Two prosodies, a.example and b.example, each behind its own ward: inbound `xmpp-server`
// (mutual TLS) to its prosody, outbound `xmpp-server-outbound` routing the other domain to the
// other ward. Prosody's outgoing s2s finds its ward's outbound listener through the DNS stub.
struct Federation {
    TempDir dir{"e2e-xmpp-fed"};
    TestPki pki{dir.path() / "pki"};
    CertFiles cert_a = pki.issue("a", domain_spec("a.example"));
    CertFiles cert_b = pki.issue("b", domain_spec("b.example"));
    CertFiles cert_c = pki.issue("c", domain_spec("c.example"));
    std::uint16_t prosody_a_s2s = 0, prosody_b_s2s = 0;
    std::unique_ptr<WardProcess> ward_a, ward_b;
    std::unique_ptr<BackgroundProcess> dns;
    std::unique_ptr<Prosody> prosody_a, prosody_b;

    // `a_presents`: the certificate ward A shows to ward B ("a", or "c" for another domain).
    explicit Federation(const std::string& a_presents = "a") {
        // Prosody's ports come first (the wards' backends), then the wards (their ports go into
        // the DNS stub), then the stub (its port goes into prosody's configuration).
        prosody_a_s2s = ward::test::reserve_port();
        prosody_b_s2s = ward::test::reserve_port();
        ward_a = start_ward("a", prosody_a_s2s, "");
        ward_b = start_ward("b", prosody_b_s2s, "a.example: '127.0.0.1:" + std::to_string(ward_a->port("in")) + "'");
        // Ward A learns ward B's inbound port by a reload that adds its outbound listener.
        write_ward_config("a", prosody_a_s2s, "b.example: '127.0.0.1:" + std::to_string(ward_b->port("in")) + "'",
                          a_presents);
        const auto from = ward_a->log().size();
        REQUIRE(ward_a->process().signal(SIGHUP));
        REQUIRE_MESSAGE(ward_a->wait_for_log("listener out (xmpp-server-outbound)", 10s, from), ward_a->log());
        dns = std::make_unique<BackgroundProcess>(std::vector<std::string>{
            kPython, (kFixtures / "dns_stub.py").string(),
            "a.example=127.0.0.1:" + std::to_string(ward_b->port("out")),
            "b.example=127.0.0.1:" + std::to_string(ward_a->port("out"))});
        const auto port = dns->wait_for_output(std::regex(R"((\d+)\n)"), 10s);
        REQUIRE_MESSAGE(port, dns->describe());
        const auto dns_port = static_cast<std::uint16_t>(std::stoi(port->groups[1]));
        prosody_a = start_prosody("a.example", "alice", prosody_a_s2s, dns_port);
        prosody_b = start_prosody("b.example", "bob", prosody_b_s2s, dns_port);
    }

    fs::path write_ward_config(const std::string& side, std::uint16_t backend, const std::string& routes,
                               const std::string& presents = "") {
        const std::string domain = side + ".example";
        std::string yaml =
            "certificates:\n"
            "  own: { cert: pki/" + side + ".pem, key: pki/" + side + ".key }\n"
            "  presented: { cert: pki/" + (presents.empty() ? side : presents) + ".pem, key: pki/" +
            (presents.empty() ? side : presents) + ".key }\n"
            "trust_stores: { xmpp-trust: { dir: pki/trust } }\n"
            "tls_contexts:\n"
            "  s2s-in: { certificate: own, trust_store: xmpp-trust, verify_peer: required }\n"
            "  s2s-out: { certificate: presented, trust_store: xmpp-trust }\n"
            "metrics: { enabled: false }\n"
            "workers: 1\n"
            "limits: { drain_timeout: 1s }\n"
            "listeners:\n"
            "  - { name: in, protocol: xmpp-server, bind: '127.0.0.1:0', backends: ['127.0.0.1:" +
            std::to_string(backend) + "'], tls_context: s2s-in, xmpp: { domains: [" + domain + "] } }\n";
        if (!routes.empty()) {
            yaml += "  - { name: out, protocol: xmpp-server-outbound, bind: '127.0.0.1:0', tls_context: s2s-out, "
                    "xmpp: { domains: [" + domain + "], routes: { " + routes + " } } }\n";
        }
        return ward::e2e::write_config(dir.path() / ("ward-" + side), yaml);
    }

    std::unique_ptr<WardProcess> start_ward(const std::string& side, std::uint16_t backend, const std::string& routes) {
        fs::create_directories(dir.path() / ("ward-" + side));
        fs::create_directory_symlink(dir.path() / "pki", dir.path() / ("ward-" + side) / "pki");
        return std::make_unique<WardProcess>(write_ward_config(side, backend, routes));
    }

    std::unique_ptr<Prosody> start_prosody(const std::string& domain, const std::string& user, std::uint16_t s2s,
                                           std::uint16_t dns_port) {
        // The reserved s2s port is the wards' backend: prosody takes exactly that one.
        return std::make_unique<Prosody>(dir.path() / domain, domain, std::vector<std::string>{user}, dns_port, s2s);
    }
};

}  // namespace

TEST_CASE("e2e xmpp federation: two prosodies exchange a message through two wards with mutual TLS") {
    Federation f;
    auto bob = receiver("bob@b.example", f.prosody_b->c2s_port(), "--plain", {}, "across the federation");
    const auto alice = ward::test::run_process(slixmpp("alice@a.example", f.prosody_a->c2s_port(), "--plain", {},
                                                       {"--send-to", "bob@b.example", "--body", "across the federation"}),
                                               40s);
    CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err);
    REQUIRE_MESSAGE(bob->wait_exit(30s) == 0, bob->describe() << "\nward A:\n" << f.ward_a->log() << "\nward B:\n"
                                                            << f.ward_b->log() << "\nprosody A:\n"
                                                            << f.prosody_a->log());
    CHECK(contains(bob->out(), "RECEIVED across the federation"));
    // The streams went through the wards, each of which verified the other's certificate: their
    // sessions, ended by stopping the wards, say so.
    for (auto* w : {f.ward_a.get(), f.ward_b.get()}) {
        w->process().signal(SIGTERM);
        CHECK(w->process().wait_exit(15s) == 0);
    }
    const std::regex out_a(R"(out 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ .*tls=TLSv1\.3 .*peer_subject=b\.example)");
    const std::regex in_b(R"(in 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ .*tls=TLSv1\.3 .*peer_subject=a\.example)");
    CHECK_MESSAGE(std::regex_search(f.ward_a->log(), out_a), f.ward_a->log());
    CHECK_MESSAGE(std::regex_search(f.ward_b->log(), in_b), f.ward_b->log());
}

TEST_CASE("e2e xmpp federation: a ward presenting a certificate for another domain is refused") {
    Federation f("c");  // ward A presents c.example's certificate for a.example's stream
    auto bob = std::make_unique<BackgroundProcess>(
        slixmpp("bob@b.example", f.prosody_b->c2s_port(), "--plain", {}, {"--expect", "must not arrive", "--timeout", "60"}));
    REQUIRE(bob->wait_for_output("READY", 30s));
    const auto alice = ward::test::run_process(slixmpp("alice@a.example", f.prosody_a->c2s_port(), "--plain", {},
                                                       {"--send-to", "bob@b.example", "--body", "must not arrive"}),
                                               40s);
    CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err);
    // ward B refuses the stream at its header: the certificate does not name a.example.
    CHECK_MESSAGE(f.ward_b->wait_for_log("not-authorized: certificate does not name 'a.example'", 30s),
                  f.ward_b->log());
    bob->signal(SIGTERM);
    bob->wait_exit(10s);
    CHECK_FALSE(contains(bob->out(), "RECEIVED"));
}
