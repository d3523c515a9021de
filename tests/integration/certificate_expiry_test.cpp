// SPDX-License-Identifier: Apache-2.0
// The certificate expiry metric: every certificate ward presents and every one in a trust store
// a context uses, with its notAfter as the file says, on the metrics endpoint.
#include <doctest/doctest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <ctime>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;
using namespace ward::test;

namespace {

std::int64_t not_after_of(const std::filesystem::path& pem) {
    FILE* f = std::fopen(pem.c_str(), "r");
    REQUIRE(f != nullptr);
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(cert != nullptr);
    std::tm tm{};
    REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1);
    X509_free(cert);
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

TEST_CASE("certificate expiry: presented and trusted certificates are on the metrics endpoint") {
    TempDir dir{"cert-expiry"};
    TestPki pki{dir.path()};
    auto spec = TestPki::client_spec("soon.test");
    spec.not_after = std::chrono::hours(24 * 20);
    const auto soon = pki.issue("soon", spec);
    pki.trust(soon);  // a trusted peer certificate, beside the CA
    TcpBackend backend{TcpBackend::Mode::capture};
    const auto file = dir.path() / "ward.yaml";
    write_text_file(file, "certificates: { server: { cert: server.pem, key: server.key } }\n"
                          "trust_stores: { trust: { dir: trust } }\n"
                          "tls_contexts: { in: { certificate: server, trust_store: trust } }\n"
                          "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
                          "workers: 1\n"
                          "listeners:\n"
                          "  - { name: relay, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                              backend.endpoint() + "'], tls_context: in }\n");
    RunningWard ward(file);
    const auto text = fetch_metrics(ward.metrics_port());
    INFO(text);
    CHECK(text.find("# TYPE ward_certificate_expiry_timestamp_seconds gauge\n") != std::string::npos);
    CHECK(text.find("ward_certificate_expiry_timestamp_seconds{certificate=\"server\",subject=\"CN=server.test, O=ward\"} " +
                    std::to_string(not_after_of(dir.path() / "server.pem")) + "\n") != std::string::npos);
    CHECK(text.find("ward_certificate_expiry_timestamp_seconds{certificate=\"trust:trust/soon.pem\",subject=\"CN=soon.test, "
                    "O=ward\"} " + std::to_string(not_after_of(soon.cert)) + "\n") != std::string::npos);
}
