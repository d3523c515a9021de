// SPDX-License-Identifier: Apache-2.0
// Resumption under the context as it is now: a session (TLS 1.2 ticket, TLS 1.3 PSK) made under
// one configuration is resumed after a rebuild of the contexts (a reload) only when a full
// handshake under the new one would accept its peer. Real handshakes between ward's SSL_CTX and
// a plain OpenSSL client over a BIO pair.
#include <ctime>
#include <filesystem>
#include <string>
#include <utility>

#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "tests/support/tls_test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace tls = ward::tls;
using ward::test::CertFiles;
using ward::test::HandshakeResult;
using ward::test::PeerOptions;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::config_yaml;

std::string version_name(int version) { return version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2"; }

// Whether this flavour resumes sessions where peers are verified at all. wolfSSL's does not (no
// hook re-verifies a resumed peer; see tls/peer_verifier_wolfssl.cpp): there every context here
// issues no ticket, each later connection is a full handshake, and the same refusals follow
// from the full verification.
constexpr bool kResumes = tls::flavour::kResumesVerifiedPeers;

struct Attempt {
    HandshakeResult result;
    bool resumed = false;
    SSL_SESSION* session = nullptr;  // the client's session afterwards (owned by the caller)
};

// One connection of a plain OpenSSL client built from `options` to `context`, offering `resume`
// when given. `tune` may change the server's SSL before the handshake.
template <class Tune>
Attempt connect(const tls::Context& context, const PeerOptions& options, SSL_SESSION* resume, Tune tune) {
    auto client_ctx = ward::test::make_peer_ctx(options);
    auto server = context.new_server();
    tune(server.get());
    auto client = ward::test::make_peer_client(client_ctx.get());
    if (resume) {
        const int offered = SSL_set_session(client.get(), resume);
        if (kResumes) REQUIRE(offered == 1);
    }
    Attempt a;
    a.result = ward::test::handshake(server.get(), client.get());
    a.result.verified_peer_subject = a.result.server_ok ? tls::verified_peer_subject(server.get()) : "";
    a.resumed = SSL_session_reused(server.get()) == 1;
    // Closed as a client that said goodbye (OpenSSL drops the session of an SSL freed without).
    SSL_set_shutdown(client.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    a.session = SSL_get1_session(client.get());
    return a;
}

Attempt connect(const tls::Context& context, const PeerOptions& options, SSL_SESSION* resume = nullptr) {
    return connect(context, options, resume, [](SSL*) {});
}

// A resumable session made by a full handshake with `options` (which may carry no certificate).
SSL_SESSION* ticket_from(const tls::Context& context, const PeerOptions& options, const std::string& subject) {
    auto first = connect(context, options);
    INFO(first.result.describe());
    REQUIRE(first.result.server_ok);
    REQUIRE(first.result.client_ok);
    CHECK_FALSE(first.resumed);
    CHECK(first.result.verified_peer_subject == subject);
    REQUIRE(first.session != nullptr);
    CHECK(SSL_SESSION_is_resumable(first.session) == (kResumes ? 1 : 0));
    return first.session;
}

void check_refused(const Attempt& a) {
    INFO(a.result.describe());
    CHECK_FALSE(a.resumed);
    CHECK_FALSE(a.result.server_ok);
    CHECK_FALSE(a.result.data_exchanged);
    CHECK(a.result.verified_peer_subject.empty());
    CHECK_FALSE(a.result.server_alerts_sent.empty());
}

PeerOptions client(const TestPki& pki, const CertFiles* cert, int version) {
    auto o = ward::test::client_options(pki, cert);
    o.max_version = version;
    return o;
}

const std::string kBoth = "    peer_subjects: [client.test, other.test]\n";

// The peer with `cert` gets a ticket under `before`; under `after` that ticket is offered by a
// client without a certificate and by one with it: neither resumes, both are refused. Checks
// both refusal reasons, TLS 1.3 and TLS 1.2.
void check_ticket_refused(const TestPki& pki, const CertFiles& cert, const tls::Context& before,
                          const tls::Context& after, const std::string& bare_reason, const std::string& cert_reason) {
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version_name(version));
        SSL_SESSION* ticket = ticket_from(before, client(pki, &cert, version), "client.test");
        auto bare = connect(after, client(pki, nullptr, version), ticket);
        check_refused(bare);
        CHECK(bare.result.peer_refusal_reason == bare_reason);
        auto with_cert = connect(after, client(pki, &cert, version), ticket);
        check_refused(with_cert);
        CHECK(with_cert.result.peer_refusal_reason == cert_reason);
        for (auto* session : {bare.session, with_cert.session, ticket}) SSL_SESSION_free(session);
    }
}

const std::string kNoCertificate =
    "the peer presented no certificate, and this TLS context requires one (verify_peer: required)";


}  // namespace

TEST_CASE("resumption: an unchanged reload resumes with the subject verified again") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto cert = pki.issue("client", TestPki::client_spec("client.test"));
    const auto yaml = config_yaml(kBoth, {"client.test", "other.test"});
    const auto before = ward::test::load_config(dir.path(), yaml);
    const auto after = ward::test::load_config(dir.path(), yaml);
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version_name(version));
        SSL_SESSION* ticket = ticket_from(before.context("peer"), client(pki, &cert, version), "client.test");
        // Offered by a client that holds no certificate at all: the ticket is the credential.
        auto again = connect(after.context("peer"), client(pki, nullptr, version), ticket);
        INFO(again.result.describe());
        if (kResumes) {
            CHECK(again.resumed);
            CHECK(again.result.data_exchanged);
            CHECK(again.result.verified_peer_subject == "client.test");
        } else {
            check_refused(again);
            CHECK(again.result.peer_refusal_reason == kNoCertificate);
        }
        SSL_SESSION_free(again.session);
        SSL_SESSION_free(ticket);
    }
}

TEST_CASE("resumption: a subject removed by a reload is not resumed and the peer is refused") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto cert = pki.issue("client", TestPki::client_spec("client.test"));
    const auto before = ward::test::load_config(dir.path(), config_yaml(kBoth, {"client.test", "other.test"}));
    // client.test leaves the context and the peer subject list.
    const auto after =
        ward::test::load_config(dir.path(), config_yaml("    peer_subjects: [other.test]\n", {"other.test"}));
    check_ticket_refused(pki, cert, before.context("peer"), after.context("peer"), kNoCertificate,
                         "peer subject 'client.test' is not selected in this TLS context");
}

TEST_CASE("resumption: a CA removed from the trust store ends resumption for its peers") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto cert = pki.issue("client", TestPki::client_spec("client.test"));
    const auto yaml = config_yaml(kBoth, {"client.test", "other.test"});
    const auto before = ward::test::load_config(dir.path(), yaml);
    // The store now trusts another CA only.
    pki.trust(pki.untrusted_ca());
    fs::remove(pki.trust_dir() / "ca.pem");
    const auto after = ward::test::load_config(dir.path(), yaml);
    check_ticket_refused(pki, cert, before.context("peer"), after.context("peer"), kNoCertificate,
                         // (The client sends the CA along: it is no longer an anchor, only a self-signed
                         // issuer. wolfSSL sets such an issuer aside and finds none for the leaf.)
                         ward::test::kLibrary.openssl
                             ? "certificate verification failed: self-signed certificate in certificate chain (depth "
                               "1, /O=ward/CN=ward test CA)"
                             : "certificate verification failed: unable to get local issuer certificate (depth 0, "
                               "/O=ward/CN=client.test)");
}

TEST_CASE("resumption: a CRL added to the trust store revokes the peer's sessions too") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    auto spec = TestPki::client_spec("client.test");
    spec.serial = 4242;
    const auto cert = pki.issue("client", spec);
    const auto yaml = config_yaml(kBoth, {"client.test", "other.test"});
    const auto before = ward::test::load_config(dir.path(), yaml);
    pki.write_ca_crl({4242});
    const auto after = ward::test::load_config(dir.path(), yaml);
    check_ticket_refused(pki, cert, before.context("peer"), after.context("peer"), kNoCertificate,
                         "certificate verification failed: certificate revoked (depth 0, /O=ward/CN=client.test)");
}

TEST_CASE("resumption: a session made without a certificate is not resumed once one is required") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto before = ward::test::load_config(dir.path(), config_yaml("    verify_peer: optional\n"));
    const auto after = ward::test::load_config(dir.path(), config_yaml("    verify_peer: required\n"));
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version_name(version));
        SSL_SESSION* ticket = ticket_from(before.context("peer"), client(pki, nullptr, version), "");
        // Unchanged, it resumes (and vouches for nobody).
        auto same = connect(before.context("peer"), client(pki, nullptr, version), ticket);
        CHECK(same.resumed == kResumes);
        CHECK(same.result.server_ok);
        CHECK(same.result.verified_peer_subject.empty());
        auto required = connect(after.context("peer"), client(pki, nullptr, version), ticket);
        check_refused(required);
        CHECK(required.result.peer_refusal_reason ==
              "the peer presented no certificate, and this TLS context requires one (verify_peer: required)");
        // A connection that demands more than its context (XMPP s2s in secure mode) declines it
        // as well, under the very context that made it.
        auto demanding = connect(before.context("peer"), client(pki, nullptr, version), ticket, [](SSL* ssl) {
            SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE, nullptr);
        });
        check_refused(demanding);
        for (auto* s : {same.session, required.session, demanding.session}) SSL_SESSION_free(s);
        SSL_SESSION_free(ticket);
    }
}

TEST_CASE("resumption: a certificate that expired since the session was made is verified again and refused") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto cert = pki.issue("client", TestPki::client_spec("client.test"));
    const auto loaded = ward::test::load_config(dir.path(), config_yaml(kBoth, {"client.test", "other.test"}));
    // The same context (same session id context): only the clock moved, past the certificate's
    // notAfter, as seen by the server's verification parameters.
    const auto later = [](SSL* ssl) {
        X509_VERIFY_PARAM_set_time(SSL_get0_param(ssl), std::time(nullptr) + 200L * 365 * 24 * 3600);
    };
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version_name(version));
        SSL_SESSION* ticket = ticket_from(loaded.context("peer"), client(pki, &cert, version), "client.test");
        auto now = connect(loaded.context("peer"), client(pki, nullptr, version), ticket);
        CHECK(now.resumed == kResumes);
        auto expired = connect(loaded.context("peer"), client(pki, nullptr, version), ticket, later);
        check_refused(expired);
        for (auto* s : {now.session, expired.session}) SSL_SESSION_free(s);
        SSL_SESSION_free(ticket);
    }
}

TEST_CASE("resumption: a TLS 1.2 session on a cipher the reloaded context dropped is not resumed") {
    TempDir dir("resumption");
    TestPki pki(dir.path());
    const auto cert = pki.issue("client", TestPki::client_spec("client.test"));
    const auto both = ward::test::load_config(
        dir.path(), config_yaml(kBoth + "    ciphers: [ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-ECDSA-AES128-GCM-SHA256]\n",
                                {"client.test", "other.test"}));
    const auto one = ward::test::load_config(
        dir.path(), config_yaml(kBoth + "    ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256]\n", {"client.test", "other.test"}));
    auto made_with = client(pki, &cert, TLS1_2_VERSION);
    made_with.cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384";
    SSL_SESSION* ticket = ticket_from(both.context("peer"), made_with, "client.test");
    auto offers_both = client(pki, nullptr, TLS1_2_VERSION);
    offers_both.cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
    // Under the same selection it resumes; after the reload it does not, and the full
    // handshake (here without a certificate) is refused.
    auto same = connect(both.context("peer"), offers_both, ticket);
    CHECK(same.resumed == kResumes);
    auto dropped = connect(one.context("peer"), offers_both, ticket);
    check_refused(dropped);
    auto with_cert = offers_both;
    with_cert.cert = cert.cert;
    with_cert.key = cert.key;
    auto fresh = connect(one.context("peer"), with_cert, ticket);
    INFO(fresh.result.describe());
    CHECK_FALSE(fresh.resumed);
    CHECK(fresh.result.server_ok);
    CHECK(fresh.result.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
    for (auto* s : {same.session, dropped.session, fresh.session}) SSL_SESSION_free(s);
    SSL_SESSION_free(ticket);
}
