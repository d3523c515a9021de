// SPDX-License-Identifier: Apache-2.0
// Revocation settings that both TLS flavours check the same way (CRLs), and OCSP where the
// flavour has none: the OCSP behaviour itself is in ocsp_test.cpp (OpenSSL flavour only: its
// responder is built with OpenSSL's OCSP API).
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/tls_test_support.hpp"
#include "tls/flavour.hpp"

namespace {

using ward::test::config_yaml;
using ward::test::TempDir;
using ward::test::TestPki;

std::string where(const ward::test::ConfigCheck& check, const std::string& yaml, const std::string& needle) {
    const auto m = ward::test::mark_of(yaml, needle);
    return check.file.string() + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
}

}  // namespace

TEST_CASE("revocation config: CRLs required but none - out of date") {
    TempDir dir("revocation-config");
    TestPki pki(dir.path());
    auto yaml = config_yaml("    revocation: { crl: require }\n");
    auto check = ward::test::check_config(dir.path(), yaml);
    INFO(check.diagnostics.to_string());
    CHECK(check.formatted("tls_contexts.peer.revocation.crl") ==
          std::vector<std::string>{where(check, yaml, "require }") +
                                   ": error: tls_contexts.peer.revocation.crl: CRLs are required but trust store "
                                   "'peers' holds none, so every peer would be refused"});
    pki.write_ca_crl({}, 30);
    check = ward::test::check_config(dir.path(), yaml);
    INFO(check.diagnostics.to_string());
    CHECK(check.snapshot);
    const auto crl = pki.write_ca_crl({}, -1);
    check = ward::test::check_config(dir.path(), yaml);
    const auto errors = check.formatted("trust_stores.peers.dir");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == where(check, yaml, "trust }") + ": error: trust_stores.peers.dir: the CRL of CN=ward test CA, O=ward in '" +
                           crl.string() +
                           "' is out of date (nextUpdate has passed): every certificate of that issuer would be "
                           "refused; put the issuer's current CRL there");
}

TEST_CASE("revocation config: OCSP stapling and OCSP checks are refused at their place where the build has no OCSP") {
    TempDir dir("revocation-config");
    TestPki pki(dir.path());
    for (const char* settings : {"    ocsp: { staple: true, responder_override: 'http://127.0.0.1:9/' }\n",
                                "    revocation: { ocsp: require, responder_override: 'http://127.0.0.1:9/' }\n",
                                "    revocation: { ocsp: prefer, responder_override: 'http://127.0.0.1:9/' }\n"}) {
        const auto yaml = config_yaml(settings);
        const auto check = ward::test::check_config(dir.path(), yaml);
        INFO(settings << check.diagnostics.to_string());
        const auto errors = check.formatted("tls_contexts.peer");
        if (ward::tls::flavour::kOcsp) {
            CHECK(errors.empty());
        } else {
            CHECK_FALSE(check.snapshot);
            CHECK(errors == std::vector<std::string>{
                                where(check, yaml, "certificate: server") +
                                ": error: tls_contexts.peer: OCSP (ocsp.staple, revocation.ocsp) is not available in "
                                "this ward, built with wolfssl; use the OpenSSL build (WARD_TLS=openssl)"});
        }
    }
}
