// SPDX-License-Identifier: Apache-2.0
// Building a TLS context reports what is wrong with it at the setting's file:line:col: a cipher
// the security mode forbids, a cipher OpenSSL does not know, a key that is not the
// certificate's.
#include <string>

#include <doctest/doctest.h>

#include "tests/support/tls_test_support.hpp"

namespace {

using ward::test::config_yaml;
using ward::test::TempDir;
using ward::test::TestPki;

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

// --- diagnostics when building -----------------------------------------------------------------

TEST_CASE("handshake config: a cipher fips mode forbids is reported at its position") {
    TempDir dir("handshake-diag");
    TestPki pki(dir.path());
    const std::string yaml = config_yaml("    ciphers: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]\n", {},
                                         "  mode: fips\n  fips_provider: policy-only\n");
    const auto check = ward::test::check_config(dir.path(), yaml);
    INFO(check.diagnostics.to_string());
    CHECK(check.loaded);
    CHECK(check.activated);
    CHECK_FALSE(check.snapshot.has_value());

    const auto at = ward::test::mark_of(yaml, "TLS_CHACHA20_POLY1305_SHA256");
    const auto errors = check.formatted("tls_contexts.peer.ciphers[1]");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == check.file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                           ": error: tls_contexts.peer.ciphers[1]: 'TLS_CHACHA20_POLY1305_SHA256' is not allowed in "
                           "fips mode: ChaCha20-Poly1305 is not a FIPS-approved cipher");
    CHECK(check.diagnostics.error_count() == 1);
    // policy-only says what it does not do.
    CHECK(check.formatted("security.fips_provider", ward::config::Severity::warning).size() == 1);
}

TEST_CASE("handshake config: an unknown cipher is reported at its position") {
    TempDir dir("handshake-diag");
    TestPki pki(dir.path());
    const std::string yaml = config_yaml("    ciphers:\n      - TLS_AES_256_GCM_SHA384\n      - FOO\n");
    const auto check = ward::test::check_config(dir.path(), yaml);
    INFO(check.diagnostics.to_string());
    CHECK_FALSE(check.snapshot.has_value());

    const auto at = ward::test::mark_of(yaml, "FOO");
    const auto errors = check.formatted("tls_contexts.peer.ciphers[1]");
    REQUIRE(errors.size() == 1);
    CHECK(starts_with(errors[0], check.file.string() + ":" + std::to_string(at.line) + ":" +
                                     std::to_string(at.column) +
                                     ": error: tls_contexts.peer.ciphers[1]: 'FOO' is not a TLS cipher known to "
                                     "OpenSSL 3.0"));
    CHECK(check.diagnostics.error_count() == 1);
}

TEST_CASE("handshake config: a key that does not match its certificate is named") {
    TempDir dir("handshake-diag");
    TestPki pki(dir.path());
    const auto other = pki.issue("other", TestPki::client_spec("other.test"));
    const std::string yaml = "certificates:\n"
                             "  server: { cert: server.pem, key: other.key }\n"
                             "trust_stores:\n"
                             "  peers: { dir: trust }\n"
                             "tls_contexts:\n"
                             "  peer:\n"
                             "    certificate: server\n"
                             "    trust_store: peers\n";
    const auto check = ward::test::check_config(dir.path(), yaml);
    INFO(check.diagnostics.to_string());
    CHECK(check.loaded);
    CHECK_FALSE(check.snapshot.has_value());

    const auto at = ward::test::mark_of(yaml, "other.key");
    const auto errors = check.formatted("certificates.server.key");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == check.file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                           ": error: certificates.server.key: key '" + other.key.string() +
                           "' does not match certificate '" + pki.server().cert.string() +
                           "' (CN=server.test, O=ward)");
}
