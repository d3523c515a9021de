// SPDX-License-Identifier: Apache-2.0
// Configuration of several certificates per TLS context (chosen by SNI): the list, its first as
// the default, the write-back round trip, and each mistake at its file:line:col.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace ward::config;
using ward::test::lines_of;

namespace {

const std::string kCertificates =
    "certificates:\n"
    "  a: { cert: server.pem, key: server.key }\n"
    "  b: { cert: server.pem, key: server.key }\n";

}  // namespace

TEST_CASE("tls certificates: a list loads - its first is the default - round trip through the writer") {
    ward::test::TempDir dir{"config-certs"};
    ward::test::TestPki pki{dir.path()};
    const std::string yaml = kCertificates + "tls_contexts: { in: { certificates: [b, a], verify_peer: none } }\n";
    auto r = load_string(yaml, dir.path() / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    const auto& c = r.config->tls_contexts.at(0);
    CHECK(c.certificates == std::vector<std::string>{"b", "a"});
    CHECK(c.certificate == "b");
    const auto text = to_yaml(*r.config);
    CHECK(text.find("    certificates:") != std::string::npos);
    CHECK(text.find("    certificate: ") == std::string::npos);
    auto again = load_string(text, dir.path() / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->tls_contexts == r.config->tls_contexts);
}

TEST_CASE("tls certificates: both forms - an unknown name - a name twice - an empty list") {
    ward::test::TempDir dir{"config-certs"};
    ward::test::TestPki pki{dir.path()};
    const std::string yaml = kCertificates +
                             "tls_contexts:\n"
                             "  one: { certificate: a, certificates: [a, b], verify_peer: none }\n"
                             "  two: { certificates: [a, c, a], verify_peer: none }\n"
                             "  three: { certificates: [], verify_peer: none }\n";
    auto r = load_string(yaml, dir.path() / "x.yaml");
    const auto file = (dir.path() / "x.yaml").string();
    const auto at = [&](const std::string& needle, int occurrence = 0) {
        const auto m = ward::test::mark_of(yaml, needle, occurrence);
        return file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
    };
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        at("[a, b]") + ": error: tls_contexts.one.certificates: give either certificate or certificates, not both",
        at("[]") + ": error: tls_contexts.three.certificates: name at least one certificate",
        at("c, a]") + ": error: tls_contexts.two.certificates[1]: unknown certificate 'c'",
        at("a], verify_peer") + ": error: tls_contexts.two.certificates[2]: certificate 'a' is listed twice",
    }));
}
