// SPDX-License-Identifier: Apache-2.0
// The admin API in process over real HTTPS on loopback: a Beast client (admin_client.hpp)
// against ward's admin plane, run by a proxy::Server as `ward run` runs it. Every resource, the
// role matrix, sessions and their expiry, login throttling and lockout, If-Match and 412, the
// full check before a write, audit records, and the bad inputs of issue 11.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "proxy/fronts/admin/admin_plane.hpp"
#include "proxy/ops/accounts.hpp"
#include "proxy/ops/audit.hpp"
#include "tests/integration/admin_client.hpp"
#include "tests/support/etcd_server.hpp"
#include "tests/support/net_test_support.hpp"
#include "tests/support/running_ward.hpp"
#include "tests/support/tls_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ward;
using test::AdminClient;
using test::HttpReply;

std::atomic<long long> clock_offset_seconds{0};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

constexpr const char* kAlicePassword = "alice-password-1";

// ward with the admin API, three accounts (alice: admin, oscar: operator, audrey: auditor), a
// TLS listener and a context with peer subjects, under a clock the test can move.
struct AdminWard {
    test::TempDir dir{"admin"};
    test::TestPki pki{dir.path() / "pki"};
    fs::path config = dir / "ward.yaml";
    fs::path users = dir / "users.json";
    fs::path audit = dir / "audit.log";
    fs::path banner = dir / "banner.txt";
    std::unique_ptr<test::RunningWard> ward;

    struct Setup {
        std::string admin_extra;  // more admin settings, indented two spaces
        std::string top;          // sections before the rest
        std::string admin_context = "{ certificate: server, verify_peer: none }";
        std::string subjects;     // more tls_peer_subjects entries
        bool ed25519_context = false;  // a context "legacy" with an Ed25519 certificate (not FIPS)
        std::string stores;       // more trust_stores entries
        std::string tail;         // top-level sections after the rest
        std::vector<std::string> folders;  // made in the ward's folder before it starts
    };

    explicit AdminWard(const std::string& admin_extra = "", const std::string& top = "")
        : AdminWard(make_setup(admin_extra, top)) {}

    static Setup make_setup(const std::string& admin_extra, const std::string& top) {
        Setup s;
        s.admin_extra = admin_extra;
        s.top = top;
        return s;
    }

    explicit AdminWard(const Setup& setup) {
        const auto& admin_extra = setup.admin_extra;
        const auto& top = setup.top;
        clock_offset_seconds = 0;
        proxy::admin::set_clock_for_tests(
            [] { return ops::SystemClock::now() + std::chrono::seconds(clock_offset_seconds.load()); });
        ops::AccountStore store;
        const auto now = ops::SystemClock::now();
        for (auto [name, role, password] : {std::tuple{"alice", ops::Role::admin, kAlicePassword},
                                           std::tuple{"oscar", ops::Role::operator_, "oscar-password-1"},
                                           std::tuple{"audrey", ops::Role::auditor, "audrey-password-1"}}) {
            ops::Account a;
            a.name = name;
            a.role = role;
            a.created = now;
            REQUIRE(store.add(a));
            REQUIRE(store.set_password(*store.find(name), password, 1000, now));
        }
        REQUIRE(store.save(users));
        test::write_text_file(banner, "Authorised use only.\nActivity is logged.\n");
        const auto& s = pki.server();
        std::string legacy_certificate, legacy_context;
        if (setup.ed25519_context) {
            auto spec = test::TestPki::client_spec("legacy.example.org");
            spec.server_auth = true;
            spec.key.kind = ops::KeySpec::Kind::ed25519;
            const auto legacy = pki.issue("legacy", spec);
            legacy_certificate = "  legacy: { cert: " + legacy.cert.string() + ", key: " + legacy.key.string() + " }\n";
            legacy_context = "  legacy: { certificate: legacy, verify_peer: none }\n";
        }
        fs::create_directories(dir / "no-fips");
        for (const auto& f : setup.folders) fs::create_directories(dir / f);
        test::write_text_file(config,
                              top + "node: { name: node-a, banner_file: banner.txt }\n"
                              "certificates:\n  server: { cert: " + s.cert.string() + ", key: " + s.key.string() + " }\n" +
                              legacy_certificate +
                              "trust_stores:\n  peers: { dir: " + pki.trust_dir().string() + " }\n" + setup.stores +
                              "tls_peer_subjects:\n"
                              "  - { subject: sip.example.org, description: SIP trunk }\n"
                              "  - { subject: spare.example.org, description: not selected }\n" + setup.subjects +
                              "tls_contexts:\n"
                              "  admin: " + setup.admin_context + "\n"
                              "  peers: { certificate: server, trust_store: peers, peer_subjects: [sip.example.org] }\n" +
                              legacy_context +
                              "listeners:\n"
                              "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['127.0.0.1:9'], tls_context: peers }\n"
                              "  - { name: c2s, protocol: xmpp-client, bind: '127.0.0.1:0', backends: ['127.0.0.1:9'],\n"
                              "      tls_context: peers, xmpp: { domains: [example.org] } }\n"
                              "workers: 1\n"
                              "metrics: { enabled: false }\n"
                              "admin:\n  enabled: true\n  bind: '127.0.0.1:0'\n  tls_context: admin\n"
                              "  users_file: users.json\n  audit_file: audit.log\n  password_iterations: 1000\n" +
                                  admin_extra + setup.tail);
        ward = std::make_unique<test::RunningWard>(config);
    }
    ~AdminWard() {
        ward.reset();
        proxy::admin::set_clock_for_tests(nullptr);
    }

    std::uint16_t port() const { return ward->server().admin_endpoint()->port(); }
    AdminClient client(const test::CertFiles* certificate = nullptr) const {
        return AdminClient(port(), pki.ca().cert, certificate ? certificate->cert : fs::path(),
                           certificate ? certificate->key : fs::path());
    }
    AdminClient login(const std::string& name, const std::string& password) const {
        auto c = client();
        auto r = c.call("POST", "/api/v1/session",
                        boost::json::serialize(boost::json::object{{"name", name}, {"password", password}}));
        INFO(r.body);
        REQUIRE(r.status == 201);
        c.set_token(std::string(r.json().at("token").as_string()));
        return c;
    }
    AdminClient alice() const { return login("alice", kAlicePassword); }
    std::string etag(AdminClient& c) const {
        auto r = c.call("GET", "/api/v1/security/xmpp");
        REQUIRE(r.status == 200);
        return r.header("etag");
    }
    config::Config loaded() const {
        auto r = config::load_file(config);
        INFO(r.diagnostics.to_string());
        REQUIRE(r.config);
        return *r.config;
    }
    // The audit records, parsed; the chain verified first.
    std::vector<boost::json::object> audit_records() const {
        auto v = ops::verify_audit(audit);
        INFO(v.why);
        REQUIRE(v.ok);
        std::vector<boost::json::object> out;
        std::istringstream in(read_file(audit));
        for (std::string line; std::getline(in, line);) out.push_back(boost::json::parse(line).as_object());
        return out;
    }
};

std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

}  // namespace

TEST_CASE("admin - health and readiness and the banner need no login - everything else does") {
    AdminWard w;
    auto c = w.client();
    CHECK(c.send("GET", "/healthz").status == 200);
    auto ready = c.send("GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.json().at("ready").as_bool());
    auto banner = c.send("GET", "/api/v1/banner");
    CHECK(banner.status == 200);
    CHECK(banner.body == "Authorised use only.\nActivity is logged.\n");
    CHECK(banner.header("content-type") == "text/plain; charset=utf-8");
    for (auto [method, path] : {std::pair{"GET", "/api/v1/security/xmpp"}, std::pair{"GET", "/api/v1/listeners"},
                                std::pair{"PUT", "/api/v1/banner"}, std::pair{"GET", "/api/v1/audit"},
                                std::pair{"POST", "/api/v1/reload"}, std::pair{"DELETE", "/api/v1/peer-subjects/x"}}) {
        auto r = c.send(method, path);
        INFO(method << " " << path);
        CHECK(r.status == 401);
        CHECK(r.header("www-authenticate") == "Bearer realm=\"ward\"");
    }
    CHECK(c.send("GET", "/api/v1/nothing").status == 404);
    auto wrong_method = c.send("PATCH", "/api/v1/security/xmpp");
    CHECK(wrong_method.status == 405);
    CHECK(wrong_method.header("allow") == "GET, PUT");
}

TEST_CASE("admin - login returns the banner and a session - logout ends it") {
    AdminWard w;
    auto c = w.client();
    auto r = c.call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})");
    REQUIRE(r.status == 201);
    auto body = r.json();
    CHECK(str(body.at("banner")) == "Authorised use only.\nActivity is logged.\n");
    CHECK(str(body.at("role")) == "admin");
    CHECK_FALSE(body.at("password_change_required").as_bool());
    const auto token = str(body.at("token"));
    CHECK(token.size() == 43);  // 256 bits, base64url
    CHECK(r.header("set-cookie").empty());  // not a browser: no cookie
    // A browser (Origin sent) gets the cookie and a key for its pages, never the token.
    auto browser = c.call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})",
                          {{"Origin", "https://127.0.0.1:" + std::to_string(w.port())}});
    REQUIRE(browser.status == 201);
    CHECK_FALSE(browser.json().contains("token"));
    const auto browser_key = str(browser.json().at("session_key"));
    const auto set_cookie = browser.header("set-cookie");
    CHECK(set_cookie.rfind("__Host-ward_session=", 0) == 0);
    CHECK(set_cookie.find("; Path=/; Secure; HttpOnly; SameSite=Strict") != std::string::npos);
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
    c.set_token(token);
    auto session = c.call("GET", "/api/v1/session");
    CHECK(session.status == 200);
    CHECK(str(session.json().at("banner")) == "Authorised use only.\nActivity is logged.\n");
    // The browser's cookie with its key works; the cookie alone does not (another service on
    // this host name may see it), nor two session cookies, nor the cookie's token as a bearer.
    CHECK(w.client().send("GET", "/api/v1/listeners", "", {{"Cookie", "a=b; " + cookie}, {"X-Ward-Session-Key", browser_key}}).status == 200);
    CHECK(w.client().send("GET", "/api/v1/listeners", "", {{"Cookie", cookie}}).status == 401);
    CHECK(w.client().send("GET", "/api/v1/listeners", "", {{"Cookie", cookie}, {"X-Ward-Session-Key", "x" + browser_key}}).status == 401);
    CHECK(w.client().send("GET", "/api/v1/listeners", "",
                          {{"Cookie", "__Host-ward_session=planted; " + cookie}, {"X-Ward-Session-Key", browser_key}}).status == 401);
    {
        // Two Cookie headers apart from each other count as two session cookies.
        auto raw = c.raw("GET /api/v1/listeners HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\nX-Other: y\r\n"
                         "Cookie: __Host-ward_session=planted\r\nX-Ward-Session-Key: " + browser_key +
                         "\r\nConnection: close\r\n\r\n");
        CHECK(raw.rfind("HTTP/1.1 401 ", 0) == 0);
    }
    const auto browser_token = cookie.substr(cookie.find('=') + 1);
    CHECK(w.client().send("GET", "/api/v1/listeners", "", {{"Authorization", "Bearer " + browser_token}}).status == 401);
    // And a bearer token is not a cookie.
    CHECK(w.client().send("GET", "/api/v1/listeners", "", {{"Cookie", "__Host-ward_session=" + token}, {"X-Ward-Session-Key", browser_key}}).status == 401);
    CHECK(c.call("DELETE", "/api/v1/session").status == 200);
    CHECK(c.call("GET", "/api/v1/listeners").status == 401);
    // Tokens are never in the audit log.
    CHECK(read_file(w.audit).find(token) == std::string::npos);
    CHECK(read_file(w.audit).find(kAlicePassword) == std::string::npos);
}

TEST_CASE("admin - the role matrix is enforced on every route") {
    AdminWard w;
    auto oscar = w.login("oscar", "oscar-password-1");
    auto audrey = w.login("audrey", "audrey-password-1");
    // operator: status, restart, reload; no settings.
    CHECK(oscar.call("GET", "/api/v1/listeners").status == 200);
    CHECK(oscar.call("POST", "/api/v1/reload").status == 200);
    CHECK(oscar.call("POST", "/api/v1/listeners/edge/restart").status == 200);
    auto refused = oscar.call("GET", "/api/v1/security/xmpp");
    CHECK(refused.status == 403);
    CHECK(refused.error() == "role 'operator' may not GET /api/v1/security/xmpp");
    CHECK(oscar.call("GET", "/api/v1/audit").status == 403);
    CHECK(oscar.call("PUT", "/api/v1/banner", "x", {{"Content-Type", "text/plain"}}).status == 403);
    // auditor: read settings and the audit log, nothing else.
    CHECK(audrey.call("GET", "/api/v1/security/xmpp").status == 200);
    CHECK(audrey.call("GET", "/api/v1/peer-subjects").status == 200);
    CHECK(audrey.call("GET", "/api/v1/tls-contexts/peers").status == 200);
    CHECK(audrey.call("GET", "/api/v1/audit").status == 200);
    const auto etag = w.etag(audrey);
    CHECK(audrey.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false})", {{"If-Match", etag}}).status == 403);
    CHECK(audrey.call("POST", "/api/v1/reload").status == 403);
    CHECK(audrey.call("GET", "/api/v1/listeners").status == 403);
    CHECK(audrey.call("POST", "/api/v1/peer-subjects", R"({"subject":"x.example"})", {{"If-Match", etag}}).status == 403);
    // Nothing changed.
    CHECK(w.loaded().security.xmpp.client_to_node_secure);
}

TEST_CASE("admin - secure modes - If-Match - 412 for a stale writer - reload seen in the listeners") {
    AdminWard w;
    auto a = w.alice();
    auto b = w.alice();
    auto got = a.call("GET", "/api/v1/security/xmpp");
    REQUIRE(got.status == 200);
    CHECK(got.json().at("client_to_node_secure").as_bool());
    const auto etag = got.header("etag");
    CHECK(etag.size() == 66);
    // No If-Match: 428.
    CHECK(a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false})").status == 428);
    // Two writers from the same version: the first wins, the second gets 412.
    auto first = a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false})", {{"If-Match", etag}});
    INFO(first.body);
    REQUIRE(first.status == 200);
    auto body = first.json();
    CHECK(body.at("affected_listeners").as_array() == boost::json::array{"c2s"});
    CHECK(str(body.at("note")).find("established streams keep the mode") != std::string::npos);
    CHECK(body.at("reload").as_object().at("applied").as_bool());
    const auto generation = body.at("reload").as_object().at("generation").as_int64();
    CHECK(generation == 2);
    auto second = b.call("PUT", "/api/v1/security/xmpp", R"({"router_to_router_secure":false})", {{"If-Match", etag}});
    CHECK(second.status == 412);
    CHECK(second.header("etag") == first.header("etag"));
    // The file holds the first change only, and is valid.
    auto c = w.loaded();
    CHECK_FALSE(c.security.xmpp.client_to_node_secure);
    CHECK(c.security.xmpp.router_to_router_secure);
    // The reload is visible in the Control Center.
    auto listeners = a.call("GET", "/api/v1/listeners").json();
    CHECK(listeners.at("generation").as_int64() == generation);
    CHECK(listeners.at("last_reload").as_object().at("applied").as_bool());
    CHECK(w.ward->server().generation() == static_cast<std::uint64_t>(generation));
    // Audited with before and after.
    auto records = w.audit_records();
    CHECK(str(records.back().at("result")).rfind("412 ", 0) == 0);  // the stale writer, refused
    const auto& last = records[records.size() - 2];
    CHECK(str(last.at("account")) == "alice");
    CHECK(str(last.at("action")) == "update");
    CHECK(str(last.at("resource")) == "/api/v1/security/xmpp");
    CHECK(last.at("before").as_object().at("client_to_node_secure").as_bool());
    CHECK_FALSE(last.at("after").as_object().at("client_to_node_secure").as_bool());
    CHECK(str(last.at("result")) == "ok");
}

TEST_CASE("admin - a change that fails the full check is refused with its diagnostics and writes nothing") {
    AdminWard w;
    auto a = w.alice();
    const auto before = read_file(w.config);
    auto r = a.call("PUT", "/api/v1/tls-contexts/peers", R"({"peer_subjects":["unknown.example.org"]})",
                    {{"If-Match", w.etag(a)}});
    CHECK(r.status == 422);
    boost::json::array diagnostics;  // the errors (a warning says example.org is not in server's names)
    const auto body = r.json();
    for (const auto& d : body.at("diagnostics").as_array())
        if (str(d.as_object().at("severity")) == "error") diagnostics.push_back(d);
    REQUIRE(diagnostics.size() == 1);
    CHECK(str(diagnostics[0].as_object().at("path")) == "tls_contexts.peers.peer_subjects[0]");
    CHECK(str(diagnostics[0].as_object().at("message")) == "'unknown.example.org' is not in tls_peer_subjects");
    auto cipher = a.call("PUT", "/api/v1/tls-contexts/peers", R"({"ciphers":["TLS_RSA_WITH_NULL_SHA999"]})",
                         {{"If-Match", w.etag(a)}});
    CHECK(cipher.status == 422);
    CHECK(read_file(w.config) == before);
    CHECK(w.ward->server().generation() == 1);
}

TEST_CASE("admin - peer subjects - add - duplicate - delete refused while selected - delete") {
    AdminWard w;
    auto a = w.alice();
    auto list = a.call("GET", "/api/v1/peer-subjects").json().at("peer_subjects").as_array();
    REQUIRE(list.size() == 2);
    CHECK(list[0].as_object().at("selected_by").as_array() == boost::json::array{"peers"});
    auto search = a.call("GET", "/api/v1/peer-subjects?search=trunk").json().at("peer_subjects").as_array();
    CHECK(search.size() == 1);

    auto added = a.call("POST", "/api/v1/peer-subjects", R"({"subject":"new.example.org","description":"new"})",
                        {{"If-Match", w.etag(a)}});
    INFO(added.body);
    CHECK(added.status == 201);
    CHECK(w.loaded().find_peer_subject("new.example.org"));
    auto twice = a.call("POST", "/api/v1/peer-subjects", R"({"subject":"new.example.org"})", {{"If-Match", w.etag(a)}});
    CHECK(twice.status == 409);
    auto selected = a.call("DELETE", "/api/v1/peer-subjects/sip.example.org", "", {{"If-Match", w.etag(a)}});
    CHECK(selected.status == 409);
    CHECK(selected.json().at("contexts").as_array() == boost::json::array{"peers"});
    CHECK(selected.error() == "'sip.example.org' is selected by TLS context peers; remove it there first");
    CHECK(a.call("DELETE", "/api/v1/peer-subjects/nothing.example", "", {{"If-Match", w.etag(a)}}).status == 404);
    CHECK(a.call("DELETE", "/api/v1/peer-subjects/spare.example.org", "", {{"If-Match", w.etag(a)}}).status == 200);
    CHECK_FALSE(w.loaded().find_peer_subject("spare.example.org"));
    // The seed's page: select the new subject in the context and choose ciphers by IANA name.
    auto ctx = a.call("GET", "/api/v1/tls-contexts/peers").json();
    auto available = ctx.at("peer_subjects").as_object().at("available").as_array();
    CHECK(available == boost::json::array{"new.example.org"});
    CHECK_FALSE(ctx.at("ciphers").as_object().at("available").as_array().empty());
    auto put = a.call("PUT", "/api/v1/tls-contexts/peers",
                      R"({"peer_subjects":["sip.example.org","new.example.org"],"ciphers":["TLS_AES_256_GCM_SHA384","TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]})",
                      {{"If-Match", w.etag(a)}});
    INFO(put.body);
    REQUIRE(put.status == 200);
    const auto after = w.loaded();
    const auto* peers = after.find_tls_context("peers");
    REQUIRE(peers);
    CHECK(peers->peer_subjects == std::vector<std::string>{"sip.example.org", "new.example.org"});
    CHECK(peers->ciphers == std::vector<std::string>{"TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"});
    CHECK(a.call("GET", "/api/v1/tls-contexts/nothing").status == 404);
}

TEST_CASE("admin - certificate upload imports like ward cert import - listed - deleted by fingerprint") {
    AdminWard w;
    auto a = w.alice();
    auto peer = w.pki.issue("trunk", test::TestPki::client_spec("trunk.example.org"));
    const auto pem = read_file(peer.cert);
    CHECK(a.call("POST", "/api/v1/trust-stores/peers/certificates", pem, {{"Content-Type", "application/x-pem-file"}})
              .status == 428);
    CHECK(a.call("POST", "/api/v1/trust-stores/peers/certificates", pem,
                 {{"Content-Type", "application/json"}, {"If-Match", w.etag(a)}})
              .status == 415);
    CHECK(a.call("POST", "/api/v1/trust-stores/nothing/certificates", pem,
                 {{"Content-Type", "application/x-pem-file"}, {"If-Match", w.etag(a)}})
              .status == 404);
    auto r = a.call("POST", "/api/v1/trust-stores/peers/certificates", pem,
                    {{"Content-Type", "application/x-pem-file"}, {"If-Match", w.etag(a)}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto changes = r.json().at("changes").as_array();
    CHECK(changes.size() == 4);
    CHECK(str(changes[1]) == "added 'trunk.example.org' to tls_peer_subjects");
    CHECK(str(changes[2]) == "selected 'trunk.example.org' in TLS context 'peers'");
    CHECK(w.loaded().find_peer_subject("trunk.example.org"));
    // Not PEM at all: refused, nothing written.
    const auto before = read_file(w.config);
    auto junk = a.call("POST", "/api/v1/trust-stores/peers/certificates", "not a certificate",
                       {{"Content-Type", "text/plain"}, {"If-Match", w.etag(a)}});
    CHECK(junk.status == 422);
    CHECK(read_file(w.config) == before);

    // The fingerprint the API lists for the certificate whose subject names `name`.
    auto fingerprint_of = [&](const std::string& name) {
        const auto listed = a.call("GET", "/api/v1/trust-stores/peers/certificates").json().at("certificates").as_array();
        std::string found;
        for (const auto& c : listed)
            if (str(c.as_object().at("subject")).find(name) != std::string::npos) found = str(c.as_object().at("fingerprint"));
        return found;
    };
    const auto fingerprint = fingerprint_of("trunk.example.org");
    REQUIRE_FALSE(fingerprint.empty());
    auto gone = a.call("DELETE", "/api/v1/trust-stores/peers/certificates/" + fingerprint);
    INFO(gone.body);
    CHECK(gone.status == 200);
    CHECK(a.call("DELETE", "/api/v1/trust-stores/peers/certificates/" + fingerprint).status == 404);

    // Review finding: a file that holds more than the certificate (here the CA's CRL too) is not
    // removed for it: the CRL would go with it, and the peers it revokes would get in.
    const auto crl = w.pki.write_ca_crl();
    auto bundled = w.pki.issue("bundled", test::TestPki::client_spec("bundled.example.org"));
    const auto bundle = w.pki.trust_dir() / "bundle.pem";
    const auto bundle_text = read_file(bundled.cert) + read_file(crl);
    test::write_text_file(bundle, bundle_text);
    fs::remove(crl);
    const auto bundled_fingerprint = fingerprint_of("bundled.example.org");
    REQUIRE_FALSE(bundled_fingerprint.empty());
    auto kept = a.call("DELETE", "/api/v1/trust-stores/peers/certificates/" + bundled_fingerprint);
    INFO(kept.body);
    CHECK(kept.status == 409);
    CHECK(kept.body.find("holds 1 other certificate(s) or CRL(s)") != std::string::npos);
    CHECK(read_file(bundle) == bundle_text);
}

TEST_CASE("admin - a security mode change is checked against the new mode and takes effect at restart" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    AdminWard w;
    auto a = w.alice();
    auto mode = a.call("GET", "/api/v1/security/mode").json();
    CHECK(str(mode.at("mode")) == "standard");
    CHECK_FALSE(mode.at("restart_pending").as_bool());
    CHECK(a.call("PUT", "/api/v1/security/mode", R"({"mode":"paranoid"})", {{"If-Match", w.etag(a)}}).status == 400);
    auto r = a.call("PUT", "/api/v1/security/mode", R"({"mode":"fips"})", {{"If-Match", w.etag(a)}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(str(r.json().at("note")).find("takes effect at restart") != std::string::npos);
    mode = a.call("GET", "/api/v1/security/mode").json();
    CHECK(str(mode.at("mode")) == "fips");
    CHECK(str(mode.at("running_mode")) == "standard");
    CHECK(mode.at("restart_pending").as_bool());
    CHECK(w.ward->server().generation() == 1);  // not reloaded: it could not take the new mode
}

TEST_CASE("admin - the banner is replaced on this node - checked for size - type and control characters") {
    AdminWard w;
    auto a = w.alice();
    CHECK(a.call("PUT", "/api/v1/banner", "text", {{"Content-Type", "application/json"}}).status == 415);
    CHECK(a.call("PUT", "/api/v1/banner", "bell \x07", {{"Content-Type", "text/plain"}}).status == 400);
    CHECK(a.call("PUT", "/api/v1/banner", "bad \xff utf-8", {{"Content-Type", "text/plain"}}).status == 400);
    CHECK(a.call("PUT", "/api/v1/banner", std::string(64 * 1024 + 1, 'x'), {{"Content-Type", "text/plain"}}).status == 413);
    const std::string text = "Nur f\xc3\xbcr Befugte.\n\tActivity is logged.\n";
    auto r = a.call("PUT", "/api/v1/banner", text, {{"Content-Type", "text/plain; charset=utf-8"}});
    CHECK(r.status == 200);
    CHECK(read_file(w.banner) == text);
    CHECK(w.client().send("GET", "/api/v1/banner").body == text);
    auto records = w.audit_records();
    CHECK(str(records.back().at("resource")) == "/api/v1/banner");
    CHECK(records.back().at("after").as_object().at("bytes").as_int64() == static_cast<std::int64_t>(text.size()));
}

TEST_CASE("admin - failed logins lock the account - a source is throttled - the lock expires") {
    AdminWard w("  lockout_attempts: 3\n  lockout_duration: 10m\n  login_failures_per_minute: 5\n");
    auto c = w.client();
    auto attempt = [&](const std::string& password) {
        return c.call("POST", "/api/v1/session",
                      boost::json::serialize(boost::json::object{{"name", "alice"}, {"password", password}}));
    };
    CHECK(attempt("wrong-1").status == 401);
    CHECK(attempt("wrong-2").status == 401);
    auto third = attempt("wrong-3");
    CHECK(third.status == 401);
    CHECK(third.error() == "wrong name or password");
    auto locked = attempt(kAlicePassword);
    CHECK(locked.status == 403);
    CHECK(locked.error().find("the account is locked until") != std::string::npos);
    // An unknown name locks the same way (a lockout says nothing about which names exist).
    auto ghost = [&](const std::string& password) {
        return c.call("POST", "/api/v1/session",
                      boost::json::serialize(boost::json::object{{"name", "ghost"}, {"password", password}}));
    };
    CHECK(ghost("x").status == 401);  // 5th failure from this address
    CHECK(ghost("x").status == 429);  // the address is throttled
    // A minute later the address may try again, but the account stays locked until 10 minutes.
    clock_offset_seconds = 61;
    CHECK(attempt(kAlicePassword).status == 403);
    clock_offset_seconds = 601;
    CHECK(attempt(kAlicePassword).status == 201);
    auto records = w.audit_records();
    int failed = 0, lockouts = 0;
    for (const auto& r : records) {
        failed += str(r.at("action")) == "login-failed";
        lockouts += str(r.at("action")) == "lockout";
    }
    CHECK(failed == 4);
    CHECK(lockouts == 1);
    CHECK(str(records.back().at("action")) == "login");
}

TEST_CASE("admin - sessions expire when idle and at their lifetime") {
    AdminWard w("  session_timeout: 5m\n  session_lifetime: 20m\n");
    auto a = w.alice();
    clock_offset_seconds = 4 * 60;
    CHECK(a.call("GET", "/api/v1/listeners").status == 200);
    clock_offset_seconds = 10 * 60;  // 6 minutes idle
    auto idle = a.call("GET", "/api/v1/listeners");
    CHECK(idle.status == 401);
    CHECK(idle.error() == "the session expired after being idle: log in again");
    auto b = w.alice();  // logged in at +10 min
    for (int minutes : {14, 18, 22, 26, 29}) {
        clock_offset_seconds = minutes * 60;
        CHECK(b.call("GET", "/api/v1/listeners").status == 200);
    }
    clock_offset_seconds = 31 * 60;  // 21 minutes after login
    auto old = b.call("GET", "/api/v1/listeners");
    CHECK(old.status == 401);
    CHECK(old.error() == "the session reached its maximum lifetime: log in again");
}

TEST_CASE("admin - a cookie-authenticated change needs this origin") {
    AdminWard w;
    const auto origin = "https://127.0.0.1:" + std::to_string(w.port());
    auto login = w.client().call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})",
                                 {{"Origin", origin}});
    REQUIRE(login.status == 201);
    const auto set_cookie = login.header("set-cookie");
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    const std::string key = str(login.json().at("session_key"));
    auto c = w.client();
    const auto etag = w.etag(*std::make_unique<AdminClient>(w.alice()));
    const std::string body = R"({"client_to_node_secure":false})";
    auto none = c.send("PUT", "/api/v1/security/xmpp", body,
                       {{"Cookie", cookie}, {"X-Ward-Session-Key", key}, {"Content-Type", "application/json"}, {"If-Match", etag}});
    CHECK(none.status == 403);
    auto evil = c.send("PUT", "/api/v1/security/xmpp", body,
                       {{"Cookie", cookie}, {"X-Ward-Session-Key", key}, {"Content-Type", "application/json"}, {"If-Match", etag},
                        {"Origin", "https://evil.example"}});
    CHECK(evil.status == 403);
    CHECK(w.loaded().security.xmpp.client_to_node_secure);
    auto same = c.send("PUT", "/api/v1/security/xmpp", body,
                       {{"Cookie", cookie}, {"X-Ward-Session-Key", key}, {"Content-Type", "application/json"}, {"If-Match", etag},
                        {"Origin", origin}});
    CHECK(same.status == 200);
    // Reading with the cookie and key needs no origin.
    CHECK(c.send("GET", "/api/v1/security/xmpp", "", {{"Cookie", cookie}, {"X-Ward-Session-Key", key}}).status == 200);
}

TEST_CASE("admin - bad input - size - type - JSON - unknown fields - names - headers - slow clients") {
    AdminWard w("  max_body_size: 64KiB\n  request_timeout: 1s\n");
    auto a = w.alice();
    const auto etag = w.etag(a);
    auto big = a.call("POST", "/api/v1/peer-subjects", std::string(70 * 1024, ' '), {{"If-Match", etag}});
    CHECK(big.status == 413);
    auto type = a.call("PUT", "/api/v1/security/xmpp", "client_to_node_secure=false",
                       {{"Content-Type", "application/x-www-form-urlencoded"}, {"If-Match", etag}});
    CHECK(type.status == 415);
    auto malformed = a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure": fals})", {{"If-Match", etag}});
    CHECK(malformed.status == 400);
    CHECK(malformed.error().rfind("malformed JSON at byte 26", 0) == 0);
    auto unknown = a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false,"colour":1,"x":2})",
                          {{"If-Match", etag}});
    CHECK(unknown.status == 400);
    CHECK(unknown.json().at("unknown_fields").as_array() == boost::json::array{"colour", "x"});
    auto wrong_type = a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":"no"})", {{"If-Match", etag}});
    CHECK(wrong_type.status == 400);
    CHECK(wrong_type.error() == "field 'client_to_node_secure' must be true or false");
    for (const std::string name : {"%2e%2e", "..%2Fetc", "a%00b", "%2F", "bad%zz"}) {
        INFO(name);
        CHECK(a.call("DELETE", "/api/v1/peer-subjects/" + name, "", {{"If-Match", etag}}).status == 400);
    }
    CHECK(a.call("GET", "/api/v1/tls-contexts/..%2F..%2Fetc%2Fpasswd").status == 400);
    // Nothing above changed the file.
    CHECK(w.loaded().security.xmpp.client_to_node_secure);

    // A header flood: 431 and the connection closes.
    auto flood = a.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
    CHECK(flood.rfind("HTTP/1.1 431 ", 0) == 0);
    // A client that stops in the middle of its request: 408 when request_timeout passes.
    auto slow = a.raw("PUT /api/v1/security/xmpp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"client");
    CHECK(slow.rfind("HTTP/1.1 408 ", 0) == 0);
    // Not HTTP at all.
    auto garbage = a.raw("\x16\x03\x01 hello\r\n\r\n");
    CHECK(garbage.rfind("HTTP/1.1 400 ", 0) == 0);
    // An idle connection is closed without an answer.
    CHECK(a.raw("").empty());
}

TEST_CASE("admin - a listener restart re-opens it while the rest keep serving") {
    AdminWard w;
    auto a = w.alice();
    const auto before = w.ward->port("edge");
    const auto other = w.ward->port("c2s");
    auto r = a.call("POST", "/api/v1/listeners/edge/restart");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(str(r.json().at("reload").as_object().at("message")).find("listener edge re-opened") != std::string::npos);
    // Port 0: the re-opened listener has a new port; the other one kept its own.
    CHECK(w.ward->port("edge") != before);
    CHECK(w.ward->port("c2s") == other);
    auto listeners = a.call("GET", "/api/v1/listeners").json().at("listeners").as_array();
    REQUIRE(listeners.size() == 2);
    CHECK(str(listeners[0].as_object().at("bind")) == "127.0.0.1:" + std::to_string(w.ward->port("edge")));
    CHECK(a.call("POST", "/api/v1/listeners/nothing/restart").status == 404);
    auto audit = w.audit_records();
    bool restarted = false;
    for (const auto& x : audit) restarted = restarted || (str(x.at("action")) == "restart" && str(x.at("result")) == "ok");
    CHECK(restarted);
}

TEST_CASE("admin - the audit log is served to auditors from a given time") {
    AdminWard w;
    auto a = w.alice();
    CHECK(a.call("POST", "/api/v1/reload").status == 200);
    auto audrey = w.login("audrey", "audrey-password-1");
    auto all = audrey.call("GET", "/api/v1/audit").json().at("records").as_array();
    CHECK(all.size() >= 3);  // two logins and a reload
    auto later = audrey.call("GET", "/api/v1/audit?since=2200-01-01T00:00:00Z").json().at("records").as_array();
    CHECK(later.empty());
    CHECK(audrey.call("GET", "/api/v1/audit?since=yesterday").status == 400);
    CHECK(audrey.call("GET", "/api/v1/audit?since=2999-01-01T00:00:00Z").status == 400);  // past the clock's range
}

// --- what the attacker review of the admin plane found, one case each ------------------------

TEST_CASE("admin review - a chunk extension that never ends is refused at a bound") {
    AdminWard w("  max_body_size: 64KiB\n");
    auto c = w.client();
    const auto answer = c.raw("POST /api/v1/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                              "Content-Type: application/json\r\n\r\n1;" +
                              std::string(200 * 1024, 'a'));
    CHECK(answer.rfind("HTTP/1.1 413 ", 0) == 0);
}

TEST_CASE("admin review - admin connections are bounded per source") {
    AdminWard w;
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> idle;
    const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"), w.port());
    for (int i = 0; i < 16; ++i) {
        idle.emplace_back(io);
        idle.back().connect(at);
    }
    // The 17th from the same address is closed at once, before any byte.
    boost::asio::ip::tcp::socket extra(io);
    extra.connect(at);
    char octet = 0;
    boost::system::error_code ec;
    extra.read_some(boost::asio::buffer(&octet, 1), ec);
    CHECK(ec == boost::asio::error::eof);
    // Once they go, the API answers again (polled with a deadline: the server sees the closes
    // when it next reads them).
    idle.clear();
    bool answered = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!answered && std::chrono::steady_clock::now() < until) {
        try {
            answered = w.client().send("GET", "/healthz").status == 200;
        } catch (const std::exception&) {
            std::this_thread::yield();
        }
    }
    CHECK(answered);
}

TEST_CASE("admin review - refused logins do not flood the audit log - the log reads its tail") {
    AdminWard w("  login_failures_per_minute: 2\n");
    auto c = w.client();
    for (int i = 0; i < 20; ++i)
        c.call("POST", "/api/v1/session", R"({"name":"alice","password":"wrong"})");
    int refused = 0, failed = 0;
    for (const auto& r : w.audit_records()) {
        refused += str(r.at("action")) == "login-refused";
        failed += str(r.at("action")) == "login-failed";
    }
    CHECK(failed == 2);
    CHECK(refused == 1);
    clock_offset_seconds = 61;
    auto a = w.alice();
    auto tail = a.call("GET", "/api/v1/audit?limit=1").json().at("records").as_array();
    REQUIRE(tail.size() == 1);
    CHECK(str(tail[0].as_object().at("action")) == "login");
}

TEST_CASE("admin review - banners the loader would refuse are refused before they are written") {
    AdminWard w;
    auto a = w.alice();
    const auto before = read_file(w.banner);
    for (const std::string& bad : {std::string("hi \xf8\x80\x80\n"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                  std::string("c1 \xc2\x9b control"), std::string("\xf4\x90\x80\x80")}) {
        CHECK(a.call("PUT", "/api/v1/banner", bad, {{"Content-Type", "text/plain"}}).status == 400);
    }
    CHECK(read_file(w.banner) == before);
    CHECK(a.call("POST", "/api/v1/reload").status == 200);
}

TEST_CASE("admin review - an account keeps at most 8 sessions - the oldest ends") {
    AdminWard w;
    std::vector<AdminClient> sessions;
    for (int i = 0; i < 9; ++i) sessions.push_back(w.login("audrey", "audrey-password-1"));
    CHECK(sessions[0].call("GET", "/api/v1/session").status == 401);
    for (int i = 1; i < 9; ++i) CHECK(sessions[static_cast<std::size_t>(i)].call("GET", "/api/v1/session").status == 200);
    CHECK(w.alice().call("GET", "/api/v1/session").status == 200);
}

TEST_CASE("admin review - names that are not UTF-8 - raw bytes in paths - keys in uploads - long CNs") {
    AdminWard w;
    auto a = w.alice();
    CHECK(a.call("DELETE", "/api/v1/peer-subjects/%FF", "", {{"If-Match", w.etag(a)}}).status == 400);
    CHECK(a.call("PUT", "/api/v1/tls-contexts/%FF", R"({"peer_subjects":[]})", {{"If-Match", w.etag(a)}}).status == 400);
    auto raw = a.raw("POST /api/v1/listeners/\xff\xfe/restart HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token() +
                     "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    CHECK(raw.rfind("HTTP/1.1 400 ", 0) == 0);
    // A pasted private key is refused, not staged.
    auto peer = w.pki.issue("keyed", test::TestPki::client_spec("keyed.example.org"));
    auto with_key = a.call("POST", "/api/v1/trust-stores/peers/certificates", read_file(peer.cert) + read_file(peer.key),
                           {{"Content-Type", "application/x-pem-file"}, {"If-Match", w.etag(a)}});
    CHECK(with_key.status == 400);
    // A CN of 64 emoji: an answer (not an exception), and no staging file left behind.
    std::string long_cn;
    for (int i = 0; i < 64; ++i) long_cn += "\xf0\x9f\x98\x80";
    auto emoji = w.pki.issue("emoji", test::TestPki::client_spec(long_cn));
    auto r = a.call("POST", "/api/v1/trust-stores/peers/certificates", read_file(emoji.cert),
                    {{"Content-Type", "application/x-pem-file"}, {"If-Match", w.etag(a)}});
    INFO(r.body);
    CHECK((r.status == 201 || r.status == 422));
    std::error_code ec;
    for (fs::directory_iterator it(fs::temp_directory_path(), ec), end; !ec && it != end; it.increment(ec))
        CHECK(it->path().filename().string().rfind("ward-import-", 0) != 0);
    // The audit log still parses and chains.
    CHECK_FALSE(w.audit_records().empty());
}

TEST_CASE("admin review - a password changed offline ends the sessions made with the old one") {
    AdminWard w;
    auto a = w.alice();
    CHECK(a.call("GET", "/api/v1/session").status == 200);
    auto store = ops::AccountStore::load(w.users, false);
    REQUIRE(store);
    REQUIRE(store->set_password(*store->find("alice"), "a-new-password-2", 1000, ops::SystemClock::now()));
    REQUIRE(store->save(w.users));
    auto old = a.call("GET", "/api/v1/session");
    CHECK(old.status == 401);
    CHECK(old.error() == "the account's password changed: log in again");
    w.login("alice", "a-new-password-2");
}

TEST_CASE("admin review - wrong current passwords count toward the lockout and end the sessions") {
    AdminWard w("  lockout_attempts: 3\n");
    auto a = w.alice();
    for (int i = 0; i < 2; ++i)
        CHECK(a.call("PUT", "/api/v1/session/password", R"({"current":"guess","new":"another-password-1"})").status == 403);
    auto third = a.call("PUT", "/api/v1/session/password", R"({"current":"guess","new":"another-password-1"})");
    CHECK(third.status == 403);
    CHECK(third.error() == "the current password is wrong; the account is now locked and its sessions ended");
    CHECK(a.call("GET", "/api/v1/session").status == 401);
    CHECK(w.client().call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})").status == 403);
}

TEST_CASE("admin review - refusals of a logged-in account are audited") {
    AdminWard w;
    auto oscar = w.login("oscar", "oscar-password-1");
    CHECK(oscar.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false})", {{"If-Match", "x"}}).status == 403);
    const auto records = w.audit_records();
    const auto& last = records.back();
    CHECK(str(last.at("account")) == "oscar");
    CHECK(str(last.at("action")) == "denied");
    CHECK(str(last.at("resource")) == "/api/v1/security/xmpp");
    CHECK(str(last.at("result")) == "403 role 'operator' may not PUT /api/v1/security/xmpp");
}

TEST_CASE("admin review - a move to fips mode is refused when the FIPS provider's files are missing") {
    AdminWard w("", "security: { fips_module_dir: no-fips }\n");
    auto a = w.alice();
    const auto before = read_file(w.config);
    auto r = a.call("PUT", "/api/v1/security/mode", R"({"mode":"fips"})", {{"If-Match", w.etag(a)}});
    CHECK(r.status == 422);
    CHECK(r.error().find("has no fips.so and fipsmodule.cnf") != std::string::npos);
    CHECK(read_file(w.config) == before);
}

TEST_CASE("admin - with client certificates the certificate's CN must be the account") {
    AdminWard::Setup setup;
    setup.admin_context = "{ certificate: server, trust_store: peers, peer_subjects: [alice, oscar], verify_peer: required }";
    setup.subjects = "  - { subject: alice, description: administrator }\n  - { subject: oscar, description: operator }\n";
    AdminWard w(setup);
    const auto alice_cert = w.pki.issue("alice", test::TestPki::client_spec("alice"));
    const auto oscar_cert = w.pki.issue("oscar", test::TestPki::client_spec("oscar"));
    auto with_alice = w.client(&alice_cert);
    auto ok = with_alice.call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})");
    CHECK(ok.status == 201);
    // Oscar's password over Alice's certificate: refused.
    auto other = with_alice.call("POST", "/api/v1/session", R"({"name":"oscar","password":"oscar-password-1"})");
    CHECK(other.status == 401);
    CHECK(other.error() == "the client certificate does not belong to this account");
    // Alice's session over Oscar's certificate: refused.
    with_alice.set_token(std::string(ok.json().at("token").as_string()));
    auto moved = w.client(&oscar_cert);
    moved.set_token(with_alice.token());
    CHECK(moved.call("GET", "/api/v1/session").status == 401);
    // No certificate: no TLS session at all.
    CHECK_THROWS(w.client().send("GET", "/healthz"));
    // An untrusted certificate with the right CN: refused in the handshake.
    const auto forged = w.pki.issue("forged", test::TestPki::client_spec("alice"), test::Signer::untrusted_ca);
    CHECK_THROWS(w.client(&forged).send("GET", "/healthz"));
}

TEST_CASE("admin - two writers at the same moment from the same version - one wins - one gets 412") {
    AdminWard w;
    auto a = w.alice();
    auto b = w.alice();
    const auto etag = w.etag(a);
    int first = 0, second = 0;
    std::thread ta([&] { first = a.call("PUT", "/api/v1/security/xmpp", R"({"client_to_node_secure":false})", {{"If-Match", etag}}).status; });
    std::thread tb([&] { second = b.call("PUT", "/api/v1/security/xmpp", R"({"router_to_router_secure":false})", {{"If-Match", etag}}).status; });
    ta.join();
    tb.join();
    CHECK(((first == 200 && second == 412) || (first == 412 && second == 200)));
    const auto c = w.loaded();
    CHECK(c.security.xmpp.client_to_node_secure != c.security.xmpp.router_to_router_secure);
}

// --- what the second review found -------------------------------------------------------------

TEST_CASE("admin review 2 - a stranger's failed logins lock new logins but end no session") {
    AdminWard w("  lockout_attempts: 3\n");
    auto a = w.alice();
    auto stranger = w.client();
    for (int i = 0; i < 3; ++i)
        CHECK(stranger.call("POST", "/api/v1/session", R"({"name":"alice","password":"guess"})").status == 401);
    CHECK(stranger.call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})").status == 403);
    CHECK(a.call("GET", "/api/v1/session").status == 200);
}

TEST_CASE("admin review 2 - idle connections from many sources cannot lock an administrator out") {
    AdminWard w;
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> idle;
    const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"), w.port());
    // 8 loopback addresses x 16 connections: every admin connection slot, none authenticated.
    for (int source = 2; source < 10; ++source) {
        for (int i = 0; i < 16; ++i) {
            idle.emplace_back(io);
            idle.back().open(boost::asio::ip::tcp::v4());
            idle.back().bind({boost::asio::ip::make_address("127.0.0." + std::to_string(source)), 0});
            idle.back().connect(at);
        }
    }
    // Wait until ward has taken them all (each is accepted before this answers).
    auto first = w.client().send("GET", "/healthz");
    CHECK(first.status == 200);
    // An administrator still gets in: the oldest stranger makes room.
    auto a = w.alice();
    CHECK(a.call("GET", "/api/v1/listeners").status == 200);
}

TEST_CASE("admin review 2 - a session's refusals are audited at most 20 a minute") {
    AdminWard w;
    auto audrey = w.login("audrey", "audrey-password-1");
    for (int i = 0; i < 30; ++i) CHECK(audrey.call("POST", "/api/v1/reload").status == 403);
    auto denied = [&] {
        int n = 0;
        for (const auto& r : w.audit_records()) n += str(r.at("action")) == "denied";
        return n;
    };
    CHECK(denied() == 20);
    clock_offset_seconds = 61;
    CHECK(audrey.call("POST", "/api/v1/reload").status == 403);
    CHECK(denied() == 21);
    CHECK(str(w.audit_records().back().at("result")) ==
          "403 role 'auditor' may not POST /api/v1/reload (10 earlier refusals of this session not recorded)");
}

TEST_CASE("admin - a mode change lists each certificate the new mode forbids and suggests ward pki issue" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    AdminWard::Setup setup;
    setup.ed25519_context = true;
    AdminWard w(setup);
    auto a = w.alice();
    const auto before = read_file(w.config);
    auto r = a.call("PUT", "/api/v1/security/mode", R"({"mode":"fips"})", {{"If-Match", w.etag(a)}});
    INFO(r.body);
    CHECK(r.status == 422);
    bool named = false;
    const auto body = r.json();
    for (const auto& d : body.at("diagnostics").as_array()) {
        const auto& o = d.as_object();
        named = named || (str(o.at("path")).rfind("certificates.legacy", 0) == 0 &&
                          str(o.at("message")).find("not approved in fips mode") != std::string::npos);
    }
    CHECK(named);
    CHECK(str(body.at("suggestion")).find("ward pki issue") != std::string::npos);
    CHECK(read_file(w.config) == before);
}

TEST_CASE("admin - the console is served with a strict content security policy - no referrer - no framing") {
    AdminWard w;
    auto c = w.client();
    auto index = c.send("GET", "/");
    CHECK(index.status == 200);
    CHECK(index.header("content-type") == "text/html; charset=utf-8");
    CHECK(index.body.find("<script src=\"/app.js\" defer></script>") != std::string::npos);
    CHECK(index.body.find("<script>") == std::string::npos);  // no inline script
    CHECK(index.header("content-security-policy").find("script-src 'self'") != std::string::npos);
    CHECK(index.header("content-security-policy").find("'unsafe-inline'") == std::string::npos);
    CHECK(index.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(index.header("referrer-policy") == "no-referrer");
    CHECK(index.header("x-frame-options") == "DENY");
    CHECK(index.header("strict-transport-security") == "max-age=31536000");
    auto js = c.send("GET", "/app.js");
    CHECK(js.status == 200);
    CHECK(js.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(js.body.size() > 1000);
    CHECK(c.send("GET", "/app.css").status == 200);
    auto icon = c.send("GET", "/favicon.ico");
    CHECK(icon.status == 204);
    CHECK(icon.header("content-length").empty());
    CHECK(c.send("GET", "/index.html").status == 404);
}

TEST_CASE("admin - a mode change can be checked without writing - the audit chain's state is served" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    AdminWard w;
    auto a = w.alice();
    const auto before = read_file(w.config);
    auto check = a.call("PUT", "/api/v1/security/mode", R"({"mode":"fips","check_only":true})", {{"If-Match", w.etag(a)}});
    INFO(check.body);
    CHECK(check.status == 200);
    CHECK(check.json().at("valid").as_bool());
    CHECK(read_file(w.config) == before);
    // Audited as a check, not as a change.
    const auto records = w.audit_records();
    CHECK(str(records.back().at("action")) == "check");
    CHECK(str(records.back().at("result")) == "ok (nothing written)");
    CHECK(w.ward->server().generation() == 1);
    auto verify = a.call("GET", "/api/v1/audit/verify").json();
    CHECK(verify.at("ok").as_bool());
    CHECK(verify.at("records").as_int64() >= 1);
    // Computed at most every 30 s: the same verdict (and time) within that.
    auto again = a.call("GET", "/api/v1/audit/verify").json();
    CHECK(again.at("verified_at") == verify.at("verified_at"));
    CHECK(again.at("records") == verify.at("records"));
}

TEST_CASE("admin - a client certificate is checked for revocation like any peer's" *
          doctest::skip(!ward::tls::flavour::kOcsp)) {
    // A responder that is gone: with `require`, no answer refuses the administrator's
    // certificate before a byte of a request is read.
    std::uint16_t gone = 0;
    {
        test::TcpBackend responder(test::TcpBackend::Mode::capture);
        gone = responder.port();
    }
    AdminWard::Setup setup;
    setup.admin_context = "{ certificate: server, trust_store: peers, peer_subjects: [alice], verify_peer: required, "
                          "revocation: { ocsp: require, timeout: 1s, responder_override: 'http://127.0.0.1:" +
                          std::to_string(gone) + "/' } }";
    setup.subjects = "  - { subject: alice, description: administrator }\n";
    AdminWard w(setup);
    const auto alice_cert = w.pki.issue("alice", test::TestPki::client_spec("alice"));
    CHECK_THROWS(w.client(&alice_cert).call("POST", "/api/v1/session", R"({"name":"alice","password":"alice-password-1"})"));
}

TEST_CASE("admin - GET /api/v1/cluster shows the nodes and the ticket keys - readyz says where etcd is") {
    test::TempDir etcd_dir("admin-etcd");
    test::EtcdServer etcd(etcd_dir.path() / "etcd");
    AdminWard::Setup setup;
    setup.stores = "  nodes: { dir: nodes }\n";
    setup.tail = "cluster:\n  name: c1\n  etcd: { endpoints: ['http://127.0.0.1:" + std::to_string(etcd.port()) +
                 "'] }\n  trust_store: nodes\n  publish_certificate: server\n  lease_ttl: 2s\n"
                 "  ticket_secret_file: " + (etcd_dir.path() / "ticket.secret").string() + "\n";
    setup.folders = {"nodes"};
    test::write_text_file(etcd_dir.path() / "ticket.secret", std::string(32, 'k'));
    fs::permissions(etcd_dir.path() / "ticket.secret", fs::perms::owner_read | fs::perms::owner_write);
    AdminWard w(setup);
    auto c = w.client();
    // Not without a login; an auditor and an operator may read it.
    CHECK(c.send("GET", "/api/v1/cluster").status == 401);
    auto audrey = w.login("audrey", "audrey-password-1");
    boost::json::object body;
    // Until the member has read etcd (each call is a round trip; bounded).
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
         std::chrono::steady_clock::now() < until;) {
        auto r = audrey.call("GET", "/api/v1/cluster");
        REQUIRE(r.status == 200);
        body = r.json();
        // (The node's own entry can come back through the watch before the answer to its put
        // has marked it published: wait for both.)
        if (body.at("published").as_bool() && body.at("ticket_keys").at("state") == "shared" &&
            body.at("nodes").as_array().size() == 1 && body.at("nodes").as_array()[0].at("trusted").as_bool())
            break;
    }
    INFO(boost::json::serialize(body));
    CHECK(str(body.at("cluster")) == "c1");
    CHECK(str(body.at("node")) == "node-a");
    CHECK(body.at("published").as_bool());
    CHECK(body.at("etcd").at("reachable").as_bool());
    CHECK(str(body.at("ticket_keys").at("state")) == "shared");
    CHECK(str(body.at("ticket_keys").at("rotated_by")) == "node-a");
    // (rotations_won counts the puts this node saw go in; one that timed out under load and went
    // in anyway is not counted, so it is not checked here.)
    CHECK(body.at("ticket_keys").at("rotations_won").is_number());
    REQUIRE(body.at("nodes").as_array().size() == 1);
    const auto& n = body.at("nodes").as_array()[0].as_object();
    CHECK(str(n.at("node")) == "node-a");
    CHECK(str(n.at("subject")) == "server.test");
    CHECK(str(n.at("fingerprint")).size() == 95);
    CHECK(n.at("trusted").as_bool());
    CHECK(n.at("last_seen").is_string());
    // No key material is in the answer.
    CHECK(boost::json::serialize(body).find("aes") == std::string::npos);
    auto ready = c.send("GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(str(ready.json().at("cluster").at("etcd")) == "reachable");
    // etcd away: still ready (ward serves with what it has), and it says so.
    etcd.stop();
    bool away = false;
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
         !away && std::chrono::steady_clock::now() < until;) {
        auto r = c.send("GET", "/readyz");
        REQUIRE(r.status == 200);
        away = str(r.json().at("cluster").at("etcd")) == "away";
    }
    CHECK(away);
    auto later = audrey.call("GET", "/api/v1/cluster");
    CHECK_FALSE(later.json().at("etcd").at("reachable").as_bool());
    CHECK(later.json().at("etcd").at("error").as_string().size() > 0);
}
