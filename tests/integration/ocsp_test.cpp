// SPDX-License-Identifier: Apache-2.0
// OCSP and revocation without the network: responder URLs, must-staple, the checks on a response
// (made here with OpenSSL's responder API: signed by the CA, by a stranger, with another nonce,
// out of date, revoked), the cache's bound, and what `ward check` says about ocsp, revocation,
// CRLs and certificate names, each at its file:line:col.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>
#include <string>

#include <doctest/doctest.h>
#include <openssl/ocsp.h>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "tests/support/net_test_support.hpp"
#include "tests/support/running_ward.hpp"
#include "tests/support/tls_test_support.hpp"
#include "tls/context_builder.hpp"
#include "tls/ocsp.hpp"
#include "tls/tls_counters.hpp"
#include "tls/x509.hpp"

namespace {

namespace fs = std::filesystem;
namespace tls = ward::tls;
using ward::test::config_yaml;
using ward::test::TempDir;
using ward::test::TestPki;

using UniqueBasic = std::unique_ptr<OCSP_BASICRESP, tls::OpensslDeleter<OCSP_BASICRESP_free>>;
using UniqueResponse = std::unique_ptr<OCSP_RESPONSE, tls::OpensslDeleter<OCSP_RESPONSE_free>>;
using UniqueCertId = std::unique_ptr<OCSP_CERTID, tls::OpensslDeleter<OCSP_CERTID_free>>;
using UniqueTime = std::unique_ptr<ASN1_TIME, tls::OpensslDeleter<ASN1_TIME_free>>;

struct Responder {
    X509* signer;
    EVP_PKEY* key;
};

struct ResponseSpec {
    int status = V_OCSP_CERTSTATUS_GOOD;
    long this_update = -60;   // seconds from now
    long next_update = 3600;  // seconds from now; 0: none
    const OCSP_REQUEST* echo_nonce_of = nullptr;
    bool other_nonce = false;
};

// A DER OCSP response about `cert` (issued by `issuer`), signed by `responder`.
std::string respond(X509* cert, X509* issuer, Responder responder, ResponseSpec spec) {
    UniqueBasic basic(OCSP_BASICRESP_new());
    UniqueCertId id(OCSP_cert_to_id(nullptr, cert, issuer));
    const std::time_t now = std::time(nullptr);
    UniqueTime this_update(ASN1_TIME_adj(nullptr, now, 0, spec.this_update));
    UniqueTime next_update(spec.next_update ? ASN1_TIME_adj(nullptr, now, 0, spec.next_update) : nullptr);
    UniqueTime revoked_at(ASN1_TIME_adj(nullptr, now, 0, -3600));
    REQUIRE(OCSP_basic_add1_status(basic.get(), id.get(), spec.status, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                                   spec.status == V_OCSP_CERTSTATUS_REVOKED ? revoked_at.get() : nullptr,
                                   this_update.get(), next_update.get()) != nullptr);
    if (spec.echo_nonce_of) REQUIRE(OCSP_copy_nonce(basic.get(), const_cast<OCSP_REQUEST*>(spec.echo_nonce_of)) == 1);
    if (spec.other_nonce) REQUIRE(OCSP_basic_add1_nonce(basic.get(), nullptr, 16) == 1);
    REQUIRE(OCSP_basic_sign(basic.get(), responder.signer, responder.key, EVP_sha256(), nullptr, 0) == 1);
    UniqueResponse response(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
    unsigned char* der = nullptr;
    const int n = i2d_OCSP_RESPONSE(response.get(), &der);
    REQUIRE(n > 0);
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
}

tls::UniqueX509 cert_of(const fs::path& file) {
    auto c = tls::read_certificate_pem(file);
    REQUIRE_MESSAGE(c, c.error());
    return std::move(c.value());
}

tls::UniquePkey key_of(const fs::path& file) {
    auto k = tls::read_private_key_pem(file);
    REQUIRE_MESSAGE(k, k.error());
    return std::move(k.value());
}

// The request the query sent, parsed back (for its nonce).
std::unique_ptr<OCSP_REQUEST, tls::OpensslDeleter<OCSP_REQUEST_free>> request_of(const tls::OcspQuery& q) {
    const auto* p = reinterpret_cast<const unsigned char*>(q.der().data());
    std::unique_ptr<OCSP_REQUEST, tls::OpensslDeleter<OCSP_REQUEST_free>> r(
        d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(q.der().size())));
    REQUIRE(r);
    return r;
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// An OCSP responder in the test: answers every POST with what `answer()` returns (DER), over
// HTTP/1.1, one request per connection.
class FakeResponder {
public:
    explicit FakeResponder(std::function<std::string()> answer) : answer_(std::move(answer)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~FakeResponder() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    int requests() const { return requests_.load(); }
    void set_answer(std::function<std::string()> answer) {
        std::lock_guard lock(mutex_);
        answer_ = std::move(answer);
    }

private:
    void loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            std::string in;
            char buf[4096];
            for (;;) {
                const auto head = in.find("\r\n\r\n");
                const auto length = in.find("Content-Length: ");
                if (head != std::string::npos && length != std::string::npos &&
                    in.size() - head - 4 >= std::stoul(in.substr(length + 16)))
                    break;
                const auto n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
            }
            ++requests_;
            std::string der;
            {
                std::lock_guard lock(mutex_);
                der = answer_();
            }
            const std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: " +
                                    std::to_string(der.size()) + "\r\nConnection: close\r\n\r\n" + der;
            (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }

    std::function<std::string()> answer_;
    std::mutex mutex_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> requests_{0};
    std::thread thread_;
};

}  // namespace

TEST_CASE("ocsp: responder URLs - only http - with port and path") {
    auto u = tls::parse_http_url("http://ocsp.example.com/");
    REQUIRE(u);
    CHECK(u->host == "ocsp.example.com");
    CHECK(u->port == 80);
    CHECK(u->path == "/");
    u = tls::parse_http_url("HTTP://127.0.0.1:8888");
    REQUIRE(u);
    CHECK(u->port == 8888);
    CHECK(u->path == "/");
    u = tls::parse_http_url("http://r.example:81/a/b?c");
    REQUIRE(u);
    CHECK(u->path == "/a/b?c");
    for (const char* bad : {"https://r.example/", "ftp://r.example/", "http://", "http://:80/", "http://r.example:0/",
                            "http://r.example:65536/", "http://user@r.example/", "http://r.example/a b",
                            "http://r_example/", "http://r.example:8x/", "r.example"}) {
        CAPTURE(bad);
        CHECK_FALSE(tls::parse_http_url(bad));
    }
}

TEST_CASE("ocsp: the responder and must-staple are read from the certificate") {
    TempDir dir("ocsp");
    TestPki pki(dir.path());
    auto spec = TestPki::client_spec("a.test");
    spec.ocsp_url = "http://127.0.0.1:9/ocsp";
    spec.must_staple = true;
    const auto a = pki.issue("a", spec);
    auto leaf = cert_of(a.cert);
    CHECK(tls::ocsp_responder(leaf.get()) == "http://127.0.0.1:9/ocsp");
    CHECK(tls::must_staple(leaf.get()));
    auto plain = cert_of(pki.server().cert);
    CHECK(tls::ocsp_responder(plain.get()).empty());
    CHECK_FALSE(tls::must_staple(plain.get()));
}

TEST_CASE("ocsp: a response is believed only when signed by the issuer or its delegate - current - with our nonce") {
    TempDir dir("ocsp");
    TestPki pki(dir.path());
    const auto peer_files = pki.issue("peer", TestPki::client_spec("peer.test"));
    auto delegate_spec = TestPki::client_spec("responder.test");
    delegate_spec.client_auth = false;
    delegate_spec.server_auth = false;
    const auto delegate_files = pki.issue("responder", delegate_spec);  // no id-kp-OCSPSigning
    const auto stranger_files = pki.issue("stranger", TestPki::client_spec("stranger.test"),
                                          ward::test::Signer::untrusted_ca);
    auto peer = cert_of(peer_files.cert);
    auto ca = cert_of(pki.ca().cert);
    auto ca_key = key_of(pki.ca().key);
    auto untrusted = cert_of(pki.untrusted_ca().cert);
    auto untrusted_key = key_of(pki.untrusted_ca().key);
    auto delegate = cert_of(delegate_files.cert);
    auto delegate_key = key_of(delegate_files.key);
    (void)stranger_files;
    const Responder by_ca{ca.get(), ca_key.get()};

    auto query = tls::OcspQuery::make(peer.get(), ca.get(), true);
    REQUIRE(query);
    auto request = request_of(*query);

    SUBCASE("good, revoked and unknown - with the nonce echoed or absent") {
        ResponseSpec good;
        good.echo_nonce_of = request.get();
        auto r = query->check(respond(peer.get(), ca.get(), by_ca, good), now(), 3600);
        CHECK(r.status == tls::OcspStatus::good);
        CHECK(r.next_update > now());
        ResponseSpec revoked;
        revoked.status = V_OCSP_CERTSTATUS_REVOKED;
        r = query->check(respond(peer.get(), ca.get(), by_ca, revoked), now(), 3600);
        CHECK(r.status == tls::OcspStatus::revoked);
        CHECK(r.why == "revoked (keyCompromise)");
        ResponseSpec unknown;
        unknown.status = V_OCSP_CERTSTATUS_UNKNOWN;
        CHECK(query->check(respond(peer.get(), ca.get(), by_ca, unknown), now(), 3600).status == tls::OcspStatus::unknown);
        ResponseSpec no_next;
        no_next.next_update = 0;
        r = query->check(respond(peer.get(), ca.get(), by_ca, no_next), now(), 3600);
        CHECK(r.status == tls::OcspStatus::good);
        CHECK(r.next_update == 0);
        // Without nextUpdate, an old answer is not believed: it could be a replay from before
        // the revocation.
        no_next.this_update = -7200;
        r = query->check(respond(peer.get(), ca.get(), by_ca, no_next), now(), 3600);
        CHECK(r.status == tls::OcspStatus::invalid);
        CHECK(r.why == "the response gives no nextUpdate and is older than 3600s");
    }
    SUBCASE("refused: another nonce - a stranger's signature - a delegate without OCSPSigning - out of date - from the future - garbage") {
        ResponseSpec other;
        other.other_nonce = true;
        auto r = query->check(respond(peer.get(), ca.get(), by_ca, other), now(), 3600);
        CHECK(r.status == tls::OcspStatus::invalid);
        CHECK(r.why == "the response's nonce is not ours");
        r = query->check(respond(peer.get(), ca.get(), {untrusted.get(), untrusted_key.get()}, {}), now(), 3600);
        CHECK(r.status == tls::OcspStatus::invalid);
        CHECK(r.why.rfind("the response's signature does not verify against the issuer", 0) == 0);
        r = query->check(respond(peer.get(), ca.get(), {delegate.get(), delegate_key.get()}, {}), now(), 3600);
        CHECK(r.status == tls::OcspStatus::invalid);
        ResponseSpec stale;
        stale.this_update = -7200;
        stale.next_update = -3600;
        r = query->check(respond(peer.get(), ca.get(), by_ca, stale), now(), 3600);
        CHECK(r.why == "the response is out of date");
        ResponseSpec future;
        future.this_update = 3600;
        r = query->check(respond(peer.get(), ca.get(), by_ca, future), now(), 3600);
        CHECK(r.why == "the response is dated in the future");
        CHECK(query->check("not der", now(), 3600).why == "not an OCSP response");
        const auto valid = respond(peer.get(), ca.get(), by_ca, {});
        CHECK(query->check(valid + "x", now(), 3600).why == "not an OCSP response");  // trailing bytes
        // A response about another certificate of the same CA says nothing about this one.
        auto other_query = tls::OcspQuery::make(delegate.get(), ca.get(), false);
        REQUIRE(other_query);
        CHECK(other_query->check(valid, now(), 3600).why == "the response says nothing about this certificate");
    }
}

TEST_CASE("ocsp: the peers' cache keeps at most its capacity - expired entries first") {
    tls::OcspCache cache(3);
    const auto t = now();
    cache.put("a", {tls::OcspStatus::good, {}, t + 100}, t);
    cache.put("b", {tls::OcspStatus::good, {}, t - 1}, t);  // already expired
    cache.put("c", {tls::OcspStatus::revoked, {}, t + 50}, t);
    cache.put("d", {tls::OcspStatus::good, {}, t + 200}, t);  // b goes
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.find("b", t));
    cache.put("e", {tls::OcspStatus::good, {}, t + 300}, t);  // c (expiring first) goes
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.find("c", t));
    REQUIRE(cache.find("a", t));
    CHECK_FALSE(cache.find("a", t + 100));  // at its end
}

TEST_CASE("ocsp: a stapled response is not handed out past its end") {
    tls::Staples staples(2);
    auto der = std::make_shared<const std::string>("response");
    staples.set(0, der, 1000);
    CHECK(staples.get(0, 999) == der);
    CHECK(staples.get(0, 1000) == nullptr);  // at its end: gone, whatever the stapler does
    CHECK(staples.get(1, 0) == nullptr);     // never set
    CHECK(staples.get(2, 0) == nullptr);     // out of range
    staples.set(0, nullptr, 0);
    CHECK(staples.get(0, 0) == nullptr);
}

TEST_CASE("ocsp config: ocsp and revocation load - round trip through the writer") {
    TempDir dir("ocsp-config");
    TestPki pki(dir.path());
    const auto yaml = config_yaml(
        "    ocsp: { staple: true, responder_override: 'http://127.0.0.1:9/', refresh: 30m }\n"
        "    revocation: { crl: if_present, ocsp: require, responder_override: 'http://127.0.0.1:9/', timeout: 2s, "
        "cache: 5m }\n");
    auto r = ward::config::load_string(yaml, dir.path() / "ward.yaml");
    REQUIRE(r.config);
    const auto& c = r.config->tls_contexts.at(0);
    CHECK(c.ocsp.staple);
    CHECK(c.ocsp.refresh == std::chrono::minutes(30));
    CHECK(c.revocation.ocsp == ward::config::OcspCheck::require);
    CHECK(c.revocation.timeout == std::chrono::seconds(2));
    CHECK(c.revocation.cache == std::chrono::minutes(5));
    const auto text = ward::config::to_yaml(*r.config);
    auto again = ward::config::load_string(text, dir.path() / "ward.yaml");
    REQUIRE_MESSAGE(again.config, text);
    CHECK(again.config->tls_contexts == r.config->tls_contexts);
}

TEST_CASE("ocsp config: each mistake at its file:line:col") {
    TempDir dir("ocsp-config");
    TestPki pki(dir.path());
    auto where = [](const ward::test::ConfigCheck& check, const std::string& yaml, const std::string& needle) {
        const auto m = ward::test::mark_of(yaml, needle);
        return check.file.string() + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
    };

    SUBCASE("stapling needs the issuer in the file and a responder") {
        const auto yaml = config_yaml("    ocsp: { staple: true }\n");
        const auto check = ward::test::check_config(dir.path(), yaml);
        INFO(check.diagnostics.to_string());
        CHECK_FALSE(check.snapshot);
        CHECK(check.formatted("tls_contexts.peer.ocsp") ==
              std::vector<std::string>{where(check, yaml, "{ staple: true }") +
                                       ": error: tls_contexts.peer.ocsp: certificate 'server' names no OCSP responder: "
                                       "set ocsp.responder_override"});
        CHECK(check.formatted("certificates.server.cert") ==
              std::vector<std::string>{where(check, yaml, "server.pem") +
                                       ": error: certificates.server.cert: OCSP stapling needs the issuer's certificate "
                                       "after the leaf in this file (a request names the issuer's key)"});
    }
    SUBCASE("refresh and cache are bounded (the loader stops at 30 days; ward at 7)") {
        const auto yaml = config_yaml("    ocsp: { staple: true, refresh: 700h }\n"
                                      "    revocation: { ocsp: require, cache: 200h }\n");
        const auto check = ward::test::check_config(dir.path(), yaml);
        INFO(check.diagnostics.to_string());
        CHECK(check.formatted("tls_contexts.peer.ocsp.refresh") ==
              std::vector<std::string>{where(check, yaml, "700h") +
                                       ": error: tls_contexts.peer.ocsp.refresh: refresh must be between 1s and 168h"});
        CHECK(check.formatted("tls_contexts.peer.revocation.cache") ==
              std::vector<std::string>{where(check, yaml, "200h") +
                                       ": error: tls_contexts.peer.revocation.cache: cache must be between 1s and 168h"});
    }
    SUBCASE("a must-staple certificate in a context that does not staple") {
        auto spec = TestPki::client_spec("staple.test");
        spec.must_staple = true;
        pki.issue("staple", spec);
        auto yaml = config_yaml("");
        yaml.replace(yaml.find("server.pem"), 10, "staple.pem");
        yaml.replace(yaml.find("server.key"), 10, "staple.key");
        const auto check = ward::test::check_config(dir.path(), yaml);
        CHECK(check.formatted("tls_contexts.peer") ==
              std::vector<std::string>{where(check, yaml, "certificate: server") +
                                       ": error: tls_contexts.peer: certificate 'server' (CN=staple.test, O=ward) is "
                                       "must-staple (RFC 7633): clients refuse it without a stapled OCSP response; set "
                                       "ocsp.staple: true"});
    }
    SUBCASE("revocation: verify_peer none - prefer in common-criteria - timeout bounds - the handshake's budget") {
        auto yaml = config_yaml("    verify_peer: none\n    revocation: { ocsp: prefer, timeout: 50ms, cache: 0s }\n");
        auto check = ward::test::check_config(dir.path(), yaml);
        CHECK(check.formatted("tls_contexts.peer.revocation.ocsp") ==
              std::vector<std::string>{where(check, yaml, "prefer") +
                                       ": error: tls_contexts.peer.revocation.ocsp: peers' revocation is checked but "
                                       "verify_peer is none, so no peer certificate is checked"});
        CHECK(check.formatted("tls_contexts.peer.revocation.timeout") ==
              std::vector<std::string>{where(check, yaml, "50ms") +
                                       ": error: tls_contexts.peer.revocation.timeout: timeout must be between 100ms "
                                       "and 30s"});
        CHECK(check.formatted("tls_contexts.peer.revocation.cache").size() == 1);

        yaml = config_yaml("    revocation: { ocsp: prefer }\n", {}, "  mode: common-criteria\n  fips_provider: policy-only\n");
        check = ward::test::check_config(dir.path(), yaml);
        const auto cc = check.formatted("tls_contexts.peer.revocation.ocsp");
        REQUIRE(cc.size() == 1);
        CHECK(cc[0].find("common-criteria mode fails closed") != std::string::npos);

        yaml = config_yaml("    revocation: { ocsp: require, timeout: 5s }\n") +
               "listeners:\n  - { name: edge, protocol: tls, bind: 127.0.0.1:0, backends: [127.0.0.1:1], "
               "tls_context: peer, limits: { handshake_timeout: 4s } }\n";
        check = ward::test::check_config(dir.path(), yaml);
        INFO(check.diagnostics.to_string());
        CHECK(check.formatted("listeners[0].tls_context") ==
              std::vector<std::string>{where(check, yaml, "peer, limits") +
                                       ": error: listeners[0].tls_context: context 'peer' waits up to 5s for an OCSP "
                                       "answer, which must fit inside this listener's handshake_timeout (4s)"});
    }
    SUBCASE("names: two certificates of one key type claiming a name - a domain no certificate names") {
        auto spec = TestPki::client_spec("a.example");
        spec.server_auth = true;
        spec.dns_names = {"a.example", "chat.example"};
        pki.issue("a", spec);
        spec.common_names = {"b.example"};
        spec.dns_names = {"b.example", "chat.example"};
        pki.issue("b", spec);
        auto yaml = config_yaml("");
        yaml.replace(yaml.find("  server: { cert: server.pem, key: server.key }\n"), 48,
                     "  a: { cert: a.pem, key: a.key }\n  b: { cert: b.pem, key: b.key }\n");
        yaml.replace(yaml.find("    certificate: server\n"), 24, "    certificates: [a, b]\n");
        auto check = ward::test::check_config(dir.path(), yaml);
        CHECK(check.formatted("tls_contexts.peer.certificates") ==
              std::vector<std::string>{where(check, yaml, "[a, b]") +
                                       ": error: tls_contexts.peer.certificates: certificate 'b': 'chat.example' is "
                                       "already named by CN=a.example, O=ward, which has the same key type: only one of "
                                       "them could ever be chosen for it"});

        yaml = config_yaml("    verify_peer: none\n") +
               "listeners:\n  - { name: c2s, protocol: xmpp-client, bind: 127.0.0.1:0, backends: [127.0.0.1:1], "
               "tls_context: peer, xmpp: { domains: [server.test, other.example] } }\n";
        check = ward::test::check_config(dir.path(), yaml);
        INFO(check.diagnostics.to_string());
        CHECK(check.snapshot);
        CHECK(check.formatted("listeners[0].xmpp.domains[0]", ward::config::Severity::warning).empty());
        CHECK(check.formatted("listeners[0].xmpp.domains[1]", ward::config::Severity::warning) ==
              std::vector<std::string>{where(check, yaml, "other.example") +
                                       ": warning: listeners[0].xmpp.domains[1]: no certificate of context 'peer' names "
                                       "'other.example': servers and clients checking the domain will refuse it"});
    }
}

TEST_CASE("ocsp revocation: handshakes waiting on one certificate share one request to its responder") {
    TempDir dir("ocsp-engine");
    TestPki pki(dir.path());
    ward::test::TcpBackend responder(ward::test::TcpBackend::Mode::capture);
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    auto spec = TestPki::client_spec("peer.test");
    spec.ocsp_url = "http://" + responder.endpoint() + "/";
    const auto peer_files = pki.issue("peer", spec);
    const auto yaml = config_yaml("    revocation: { ocsp: require, timeout: 8s }\n") +
                      "workers: 1\nmetrics: { enabled: false }\n"
                      "listeners:\n  - { name: edge, protocol: tls, bind: 127.0.0.1:0, backends: [" +
                      backend.endpoint() + "], tls_context: peer, limits: { handshake_timeout: 10s } }\n";
    ward::test::write_text_file(dir.path() / "ward.yaml", yaml);
    ward::test::RunningWard w(dir.path() / "ward.yaml");
    auto ctx = ward::test::make_peer_ctx(ward::test::client_options(pki, &peer_files));
    std::vector<std::unique_ptr<ward::test::TlsClient>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<ward::test::TlsClient>(w.port("edge"), ctx.get()));
        REQUIRE_MESSAGE(clients.back()->ok(), clients.back()->error());
        REQUIRE(clients.back()->send("ping" + std::to_string(i)));
    }
    // All three wait on ward's check (none reached the backend), with one request out.
    auto metrics = w.server().metrics().listener("edge", "tls");
    REQUIRE(responder.wait_until([&] { return metrics->handshakes_in_flight.load() == 3 && responder.received().size() > 0; }));
    REQUIRE(responder.wait_until([&] {
        const auto r = responder.received();
        const auto head = r.find("\r\n\r\n");
        const auto length = r.find("Content-Length: ");
        return head != std::string::npos && length != std::string::npos &&
               r.size() - head - 4 == std::stoul(r.substr(length + 16));
    }));
    CHECK(responder.connections() == 1);
    CHECK(backend.connections() == 0);
    CHECK(responder.received().rfind("POST / HTTP/1.1\r\n", 0) == 0);
    CHECK(responder.received().find("Content-Type: application/ocsp-request\r\n") != std::string::npos);

    auto peer = cert_of(peer_files.cert);
    auto ca = cert_of(pki.ca().cert);
    auto ca_key = key_of(pki.ca().key);
    const auto der = respond(peer.get(), ca.get(), {ca.get(), ca_key.get()}, {});
    REQUIRE(responder.send("HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: " +
                           std::to_string(der.size()) + "\r\n\r\n" + der));
    for (int i = 0; i < 3; ++i) CHECK(clients[i]->read(5) == "ping" + std::to_string(i));
    CHECK(responder.connections() == 1);
    CHECK(backend.connections() == 3);
}

TEST_CASE("ocsp revocation: a session resumed after its certificate was revoked is refused") {
    TempDir dir("ocsp-engine");
    TestPki pki(dir.path());
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const auto peer_files = pki.issue("peer", TestPki::client_spec("peer.test"));
    auto peer = cert_of(peer_files.cert);
    auto ca = cert_of(pki.ca().cert);
    auto ca_key = key_of(pki.ca().key);
    const Responder by_ca{ca.get(), ca_key.get()};
    ResponseSpec good;
    ResponseSpec revoked;
    revoked.status = V_OCSP_CERTSTATUS_REVOKED;
    FakeResponder responder([&] { return respond(peer.get(), ca.get(), by_ca, good); });
    const auto yaml = config_yaml("    revocation: { ocsp: require, timeout: 2s, responder_override: '" +
                                  responder.url() + "' }\n") +
                      "workers: 1\nmetrics: { enabled: false }\n"
                      "listeners:\n  - { name: edge, protocol: tls, bind: 127.0.0.1:0, backends: [" +
                      backend.endpoint() + "], tls_context: peer }\n";
    ward::test::write_text_file(dir.path() / "ward.yaml", yaml);
    ward::test::RunningWard w(dir.path() / "ward.yaml");
    auto ctx = ward::test::make_peer_ctx(ward::test::client_options(pki, &peer_files));

    ward::test::TlsClient first(w.port("edge"), ctx.get());
    REQUIRE_MESSAGE(first.ok(), first.error());
    REQUIRE(first.send("one"));
    CHECK(first.read(3) == "one");  // good; the TLS 1.3 ticket came before the echo
    SSL_SESSION* ticket = SSL_get1_session(first.ssl());
    REQUIRE(ticket);
    REQUIRE(SSL_SESSION_is_resumable(ticket) == 1);
    CHECK(responder.requests() == 1);

    // Revoked now; an unchanged reload keeps the session resumable and starts a fresh cache.
    responder.set_answer([&] { return respond(peer.get(), ca.get(), by_ca, revoked); });
    REQUIRE(w.reload());
    ward::test::TlsClient second(w.port("edge"), ctx.get(), ticket);
    SSL_SESSION_free(ticket);
    REQUIRE_MESSAGE(second.ok(), second.error());
    CHECK(second.resumed());
    (void)second.send("two");
    CHECK(second.read(3).empty());  // closed before a byte reached the backend
    CHECK(responder.requests() == 2);
    CHECK(backend.connections() == 1);
    const auto& counters = tls::context_counters("peer");
    CHECK(counters.revocation[static_cast<std::size_t>(tls::RevocationResult::revoked)] == 1);
}

TEST_CASE("ocsp revocation: a peer that spends its handshake budget gets no benefit of the doubt") {
    // `prefer` lets a peer in when the responder had its whole timeout and gave no answer; a peer
    // whose slow handshake left less than that is refused, and that failure is not remembered
    // for the certificate's next connection.
    TempDir dir("ocsp-engine");
    TestPki pki(dir.path());
    ward::test::TcpBackend responder(ward::test::TcpBackend::Mode::capture);  // never answers
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const auto peer_files = pki.issue("peer", TestPki::client_spec("peer.test"));
    const auto other_files = pki.issue("other", TestPki::client_spec("other.test"));
    const auto yaml = config_yaml("    revocation: { ocsp: prefer, timeout: 1500ms, responder_override: 'http://" +
                                  responder.endpoint() + "/' }\n") +
                      "workers: 1\nmetrics: { enabled: false }\n"
                      "listeners:\n  - { name: edge, protocol: tls, bind: 127.0.0.1:0, backends: [" +
                      backend.endpoint() + "], tls_context: peer, limits: { handshake_timeout: 2s } }\n";
    ward::test::write_text_file(dir.path() / "ward.yaml", yaml);
    ward::test::RunningWard w(dir.path() / "ward.yaml");
    auto ctx = ward::test::make_peer_ctx(ward::test::client_options(pki, &peer_files));
    auto other_ctx = ward::test::make_peer_ctx(ward::test::client_options(pki, &other_files));
    const auto& counters = tls::context_counters("peer");

    // The slow peer's connection is open (its handshake budget runs from its accept) while a
    // prompt peer with another certificate waits out the responder's whole timeout and is let in.
    const int fd = ward::test::connect_tcp(w.port("edge"));
    REQUIRE(fd >= 0);
    ward::test::TlsClient prompt(w.port("edge"), other_ctx.get());
    REQUIRE_MESSAGE(prompt.ok(), prompt.error());
    REQUIRE(prompt.send("fast"));
    CHECK(prompt.read(4) == "fast");
    CHECK(counters.revocation_soft_fail.load() == 1);

    // The slow peer handshakes only now, with less than the timeout left: refused, no soft-fail.
    ward::test::TlsClient slow(fd, ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(slow.ok(), slow.error());
    (void)slow.send("slow");
    CHECK(slow.read(4).empty());
    CHECK(counters.revocation_soft_fail.load() == 1);
    // The check's own end is counted on ward's worker, which may come a moment after the client
    // saw the close (the refusal is sent as the budget ends): wait for it, bounded.
    const auto& unavailable = counters.revocation[static_cast<std::size_t>(tls::RevocationResult::unavailable)];
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (unavailable.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    CHECK(unavailable.load() == 2);

    // Its failure was not kept: the same certificate on a prompt connection asks the responder
    // again, which gets its whole timeout, and the peer is let in.
    ward::test::TlsClient again(w.port("edge"), ctx.get());
    REQUIRE_MESSAGE(again.ok(), again.error());
    REQUIRE(again.send("again"));
    CHECK(again.read(5) == "again");
    CHECK(counters.revocation_soft_fail.load() == 2);
    CHECK(responder.connections() == 3);
}
