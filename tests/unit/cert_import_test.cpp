// SPDX-License-Identifier: Apache-2.0
// Certificate import: the store, the peer subject list and the contexts, atomically and once.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "config/loader.hpp"
#include "proxy/ops/cert_import.hpp"
#include "proxy/ops/pki.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using namespace ward;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t files_in(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// A configuration with two trust stores and three contexts, and a CA to issue peers with.
struct ImportSetup {
    ward::test::TempDir tmp{"import"};
    fs::path dir = tmp.path();
    fs::path config_file = dir / "ward.yaml";
    ops::Credential ca;

    explicit ImportSetup(const std::string& mode = "standard") {
        fs::create_directories(dir / "sip-trust");
        fs::create_directories(dir / "xmpp-trust");
        ops::CertSpec ca_spec;
        ca_spec.common_names = {"Import Test CA"};
        ca_spec.is_ca = true;
        ca = std::move(ops::issue_certificate(ca_spec, nullptr).value());
        REQUIRE(ops::write_certificate_pem(dir / "sip-trust" / "ca.pem", ca.cert.get()));
        auto node = issue("node.test");
        REQUIRE(ops::write_certificate_pem(dir / "node.pem", node.cert.get()));
        REQUIRE(ops::write_private_key_pem(dir / "node.key", node.key.get()));
        std::ofstream(config_file) << "security: { mode: " << mode << ", fips_provider: policy-only }\n"
                                   << "certificates: { node: { cert: node.pem, key: node.key } }\n"
                                      "trust_stores:\n"
                                      "  sip-trust: { dir: sip-trust }\n"
                                      "  xmpp-trust: { dir: xmpp-trust }\n"
                                      "tls_peer_subjects:\n"
                                      "  - { subject: old.peer, description: already here }\n"
                                      "tls_contexts:\n"
                                      "  sip-a: { certificate: node, trust_store: sip-trust, peer_subjects: [old.peer] }\n"
                                      "  sip-b: { certificate: node, trust_store: sip-trust }\n"
                                      "  xmpp: { certificate: node, trust_store: xmpp-trust }\n";
    }
    ops::Credential issue(const std::string& cn, int rsa_bits = 0, std::vector<std::string> extra_cns = {}) {
        ops::CertSpec spec;
        spec.common_names = {cn};
        for (auto& x : extra_cns) spec.common_names.push_back(x);
        if (rsa_bits) {
            spec.key.kind = ops::KeySpec::Kind::rsa;
            spec.key.rsa_bits = rsa_bits;
        }
        return std::move(ops::issue_certificate(spec, &ca).value());
    }

    fs::path peer_file(const std::string& cn, int rsa_bits = 0, std::vector<std::string> extra_cns = {}) {
        auto cred = issue(cn, rsa_bits, std::move(extra_cns));
        auto path = dir / (cn + "-incoming.pem");
        REQUIRE(ops::write_certificate_pem(path, cred.cert.get()));
        return path;
    }

    Result<ops::ImportReport> import(const fs::path& cert, const std::string& store = "sip-trust",
                                     config::SaveOptions save = {}) {
        config::Diagnostics diagnostics(config_file.string());
        ops::ImportRequest request{config_file, store, "SIP trunk", cert, std::move(save), {}};
        return ops::import_certificate(request, diagnostics);
    }

    config::Config load() {
        auto r = config::load_file(config_file);
        INFO(r.diagnostics.to_string());
        REQUIRE(r.config);
        return std::move(*r.config);
    }
};

}  // namespace

TEST_CASE("import stores the certificate and adds its CN once to the list and to every context using the store") {
    ImportSetup s;
    auto report = s.import(s.peer_file("cups.example.org"));
    REQUIRE_MESSAGE(report, (report ? "" : report.error()));
    REQUIRE(report->changes.size() == 5);
    CHECK(report->changes[0].find("in trust store 'sip-trust' as " + (s.dir / "sip-trust" / "cups.example.org.pem").string()) !=
          std::string::npos);
    CHECK(report->changes[1] == "added 'cups.example.org' to tls_peer_subjects");
    CHECK(report->changes[2] == "selected 'cups.example.org' in TLS context 'sip-a'");
    CHECK(report->changes[3] == "selected 'cups.example.org' in TLS context 'sip-b'");
    CHECK(report->changes[4].rfind("wrote " + s.config_file.string(), 0) == 0);

    auto c = s.load();
    REQUIRE(c.tls_peer_subjects.size() == 2);
    CHECK(c.tls_peer_subjects[1].subject == "cups.example.org");
    CHECK(c.tls_peer_subjects[1].description == "SIP trunk");
    CHECK(c.find_tls_context("sip-a")->peer_subjects == std::vector<std::string>{"old.peer", "cups.example.org"});
    CHECK(c.find_tls_context("sip-b")->peer_subjects == std::vector<std::string>{"cups.example.org"});
    CHECK(c.find_tls_context("xmpp")->peer_subjects.empty());
    CHECK(fs::exists(s.dir / "sip-trust" / "cups.example.org.pem"));
    CHECK(fs::exists(fs::path(s.config_file.string() + ".prev")));
}

TEST_CASE("importing the same certificate again changes nothing and says so") {
    ImportSetup s;
    const auto cert = s.peer_file("cups.example.org");
    REQUIRE(s.import(cert));
    const auto config_before = read_file(s.config_file);
    const auto files_before = files_in(s.dir / "sip-trust");
    auto again = s.import(cert);
    REQUIRE(again);
    CHECK(again->changes.empty());
    CHECK(again->summary.rfind("nothing changed: CN=cups.example.org", 0) == 0);
    CHECK(read_file(s.config_file) == config_before);
    CHECK(files_in(s.dir / "sip-trust") == files_before);
}

TEST_CASE("a renewed certificate for a known subject is stored beside the old one - the configuration stays") {
    ImportSetup s;
    REQUIRE(s.import(s.peer_file("cups.example.org")));
    const auto config_before = read_file(s.config_file);
    auto renewed = s.import(s.peer_file("cups.example.org"));
    REQUIRE(renewed);
    REQUIRE(renewed->changes.size() == 1);
    CHECK(read_file(s.config_file) == config_before);
    CHECK(files_in(s.dir / "sip-trust") == 3);  // ca.pem, cups.example.org.pem, cups.example.org-<fp>.pem
}

TEST_CASE("a crash between writing and renaming the configuration leaves the old file intact") {
    ImportSetup s;
    const auto before = read_file(s.config_file);
    const auto cert = s.peer_file("cups.example.org");
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        config::SaveOptions crash;
        crash.before_rename = [] { _exit(42); };
        (void)s.import(cert, "sip-trust", crash);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 42);
    CHECK(read_file(s.config_file) == before);
    CHECK(s.load().tls_peer_subjects.size() == 1);
    // Importing again completes the work.
    auto report = s.import(cert);
    REQUIRE(report);
    CHECK(s.load().tls_peer_subjects.size() == 2);
}

TEST_CASE("a certificate the security mode forbids is refused with the reason - and nothing is written") {
    ImportSetup s("fips");
    const auto before = read_file(s.config_file);
    auto report = s.import(s.peer_file("weak.peer", 1024));
    REQUIRE_FALSE(report);
    CHECK(report.error() == "fips mode refuses CN=weak.peer, O=ward: RSA-1024 is too small: RSA keys need at least 2048 bits");
    CHECK(read_file(s.config_file) == before);
    CHECK(files_in(s.dir / "sip-trust") == 1);
}

TEST_CASE("a certificate with several CNs is refused: the subject rule allows exactly one") {
    ImportSetup s;
    auto report = s.import(s.peer_file("a.peer", 0, {"b.peer"}));
    REQUIRE_FALSE(report);
    CHECK(report.error().find("has 2 subject CNs; exactly one is accepted") != std::string::npos);
}

TEST_CASE("importing a CA certificate stores an anchor and selects no subject - an unknown store is named") {
    ImportSetup s;
    ops::CertSpec spec;
    spec.common_names = {"Other CA"};
    spec.is_ca = true;
    auto other_ca = ops::issue_certificate(spec, nullptr);
    REQUIRE(other_ca);
    const auto path = s.dir / "other-ca.pem";
    REQUIRE(ops::write_certificate_pem(path, other_ca->cert.get()));
    auto report = s.import(path, "xmpp-trust");
    REQUIRE(report);
    REQUIRE(report->changes.size() == 1);
    CHECK(report->summary.find("is a CA certificate, so no peer subject was added") != std::string::npos);
    CHECK(s.load().tls_peer_subjects.size() == 1);

    auto unknown = s.import(path, "sip-trst");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error() == "unknown trust store 'sip-trst' (known: sip-trust, xmpp-trust)");
}
