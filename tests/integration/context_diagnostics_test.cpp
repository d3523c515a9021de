// SPDX-License-Identifier: Apache-2.0
// Building a TLS context reports what is wrong with it at the setting's file:line:col: a cipher
// the security mode forbids, a cipher OpenSSL does not know, a key that is not the
// certificate's.
#include <string>

#include <doctest/doctest.h>

#include "tests/support/tls_test_support.hpp"
#include "tls/flavour.hpp"
#include "tls/library.hpp"

namespace {

using ward::test::config_yaml;
using ward::test::TempDir;
using ward::test::TestPki;

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

// --- diagnostics when building -----------------------------------------------------------------

TEST_CASE("handshake config: the fips - enhanced and common-criteria modes are refused where the flavour has no FIPS module") {
    TempDir dir("handshake-diag");
    TestPki pki(dir.path());
    for (const char* mode : {"fips", "enhanced", "common-criteria"}) {
        CAPTURE(mode);
        // policy-only too: the modes are claims about the module the cryptography runs in.
        for (const char* provider : {"policy-only", "required"}) {
            CAPTURE(provider);
            const std::string yaml = config_yaml("", {}, std::string("  mode: ") + mode + "\n  fips_provider: " + provider + "\n");
            const auto check = ward::test::check_config(dir.path(), yaml);
            INFO(check.diagnostics.to_string());
            const auto errors = check.formatted("security.mode");
            if (ward::tls::flavour::kFipsModule) {
                // (Whether the provider loads here is the fips tier's business.)
                if (std::string(provider) == "policy-only") CHECK(errors.empty());
                continue;
            }
            CHECK_FALSE(check.activated);
            CHECK_FALSE(check.snapshot.has_value());
            REQUIRE(errors.size() == 1);
            const auto at = ward::test::mark_of(yaml, mode);
            CHECK(starts_with(errors[0], check.file.string() + ":" + std::to_string(at.line) + ":" +
                                             std::to_string(at.column) + ": error: security.mode: " + mode +
                                             " mode needs a FIPS module: This ward is built with wolfSSL"));
        }
    }
}

TEST_CASE("handshake config: a cipher fips mode forbids is reported at its position" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
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
                                     ": error: tls_contexts.peer.ciphers[1]: 'FOO' is not a TLS cipher known to " +
                                     ward::tls::tls_library_name()));
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

// --- certificate expiry -------------------------------------------------------------------------

TEST_CASE("handshake config: a presented certificate within 30 days of expiry is a warning - an expired one an error") {
    TempDir dir("handshake-diag");
    TestPki pki(dir.path());
    auto spec = TestPki::client_spec("soon.test");
    spec.server_auth = true;
    spec.not_after = std::chrono::hours(24 * 10) + std::chrono::hours(1);
    pki.issue("soon", spec);
    spec.common_names = {"gone.test"};
    spec.not_before = -std::chrono::hours(48);
    spec.not_after = -std::chrono::hours(1);
    pki.issue("gone", spec);
    for (const std::string name : {"soon", "gone"}) {
        CAPTURE(name);
        std::string yaml = config_yaml("");
        yaml.replace(yaml.find("server.pem"), 10, name + ".pem");
        yaml.replace(yaml.find("server.key"), 10, name + ".key");
        const auto check = ward::test::check_config(dir.path(), yaml);
        INFO(check.diagnostics.to_string());
        const auto at = ward::test::mark_of(yaml, name + ".pem");
        const auto where = check.file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
        if (name == "soon") {
            CHECK(check.snapshot.has_value());
            const auto warnings = check.formatted("certificates.server.cert", ward::config::Severity::warning);
            REQUIRE(warnings.size() == 1);
            CHECK(warnings[0] == where + ": warning: certificates.server.cert: certificate CN=soon.test, O=ward in '" +
                                     (dir.path() / "soon.pem").string() + "' expires in 10 days: renew it");
        } else {
            CHECK_FALSE(check.snapshot.has_value());
            const auto errors = check.formatted("certificates.server.cert");
            REQUIRE(errors.size() == 1);
            CHECK(errors[0] == where + ": error: certificates.server.cert: certificate CN=gone.test, O=ward in '" +
                                   (dir.path() / "gone.pem").string() + "': it has expired");
        }
    }
    // A certificate with years left: no warning.
    const auto fine = ward::test::check_config(dir.path(), config_yaml(""));
    CHECK(fine.formatted("certificates.server.cert", ward::config::Severity::warning).empty());
    // The snapshot knows every presented and trusted certificate's end.
    REQUIRE(fine.snapshot.has_value());
    bool presented = false, trusted = false;
    for (const auto& e : fine.snapshot->expiries) {
        CHECK(e.not_after > std::time(nullptr) + 365LL * 86400);
        presented = presented || (e.presented && e.certificate == "server");
        trusted = trusted || (!e.presented && e.certificate.rfind("trust:peers/", 0) == 0);
    }
    CHECK(presented);
    CHECK(trusted);
}
