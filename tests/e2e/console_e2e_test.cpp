// SPDX-License-Identifier: Apache-2.0
// The admin console in a real browser: Debian's chromium driven by playwright-core
// (tests/e2e/browser/console.mjs) against the ward binary serving the shipped example
// configuration, with a generated administrator and auditor. Screenshots go to the test's
// output folder (build/tests/console-screenshots).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <regex>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"
#include "tests/e2e/prosody.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace ward;
using e2e::contains;

const fs::path kScreenshots = fs::path(WARD_BROWSER_DIR).parent_path() / "console-screenshots";

// The shipped example, its binds on port 0, a development PKI, two accounts.
struct ConsoleWard {
    test::TempDir dir{"console"};
    fs::path config = dir / "ward.yaml";
    std::unique_ptr<test::BackgroundProcess> ward;
    std::string url;

    // `edit` may change the example's text before it is written (a backend, say).
    explicit ConsoleWard(const std::function<std::string(std::string)>& edit = {}) {
        const fs::path examples = fs::path(WARD_SOURCE_DIR) / "deploy" / "examples";
        std::ifstream in(examples / "ward.yaml");
        std::string yaml((std::istreambuf_iterator<char>(in)), {});
        yaml = std::regex_replace(yaml, std::regex(R"((bind: *)(127\.0\.0\.1):\d+)"), "$1$2:0");
        if (edit) yaml = edit(yaml);
        test::write_text_file(config, yaml);
        fs::copy_file(examples / "banner.txt", dir / "banner.txt");
        REQUIRE(test::run_process({test::ward_binary(), "pki", "init", (dir / "pki").string()}).exit_code == 0);
        add("admin", "admin", "console-admin-1");
        add("audrey", "auditor", "console-auditor-1");
        ward = std::make_unique<test::BackgroundProcess>(std::vector<std::string>{test::ward_binary(), "run", "-c", config.string()});
        auto m = ward->wait_for_output(std::regex(R"(admin API on (https://127\.0\.0\.1:\d+)/)"), 20s);
        INFO(ward->describe());
        REQUIRE(m);
        url = m->groups[1];
        REQUIRE(ward->wait_for_output("ward started", 20s));
    }
    ~ConsoleWard() {
        ward->signal(SIGTERM);
        ward->wait_exit(20s);
    }

    void add(const std::string& name, const std::string& role, const std::string& password) {
        test::BackgroundProcess p({test::ward_binary(), "admin", "user", "add", "-c", config.string(), name, "--role", role,
                                   "--password-stdin"},
                                  {true, {}});
        REQUIRE(p.started());
        p.write_stdin(password + "\n");
        p.close_stdin();
        REQUIRE(p.wait_exit(30s) == 0);
    }

    std::uint16_t listener_port(const std::string& name) const {
        auto port = test::listener_port_from_log(ward->output(), name);
        REQUIRE(port);
        return *port;
    }

    // A certificate from the development CA, client use only.
    test::CertFiles issue(const std::string& cn) const {
        const auto prefix = dir / "pki" / cn;
        auto r = test::run_process({test::ward_binary(), "pki", "issue", "--ca-dir", (dir / "pki").string(), "--cn", cn,
                                    "--out", prefix.string(), "--client-only"});
        INFO(r.out << r.err);
        REQUIRE(r.exit_code == 0);
        return {cn, fs::path(prefix.string() + ".pem"), fs::path(prefix.string() + ".key")};
    }

    // Runs one browser scenario; its findings.
    json::object scenario(const std::string& name, std::vector<std::string> params) {
        std::vector<std::string> argv = {"node", std::string(WARD_BROWSER_DIR) + "/console.mjs", name, url, kScreenshots.string()};
        argv.insert(argv.end(), params.begin(), params.end());
        auto r = test::run_process(argv, 120s);
        INFO("scenario " << name << ": " << r.out << r.err);
        INFO("ward log:\n" << ward->output());
        REQUIRE(r.exit_code == 0);
        json::error_code ec;
        auto v = json::parse(r.out, ec);
        REQUIRE_FALSE(ec);
        auto findings = v.as_object();
        // No script error on any page (failed requests the page expects are not script errors).
        if (auto* errors = findings.if_contains("errors"))
            for (const auto& e : errors->as_array()) CHECK(contains(e.as_string(), "Failed to load resource"));
        return findings;
    }
};

std::string str(const json::value& v) { return std::string(v.as_string()); }

bool any_contains(const json::value& list, std::string_view part) {
    for (const auto& x : list.as_array())
        if (contains(x.as_string(), part)) return true;
    return false;
}

// A TLS 1.2 client of the SIP listener presenting `cert`, offering only `cipher`.
bool sip_accepts(const ConsoleWard& w, const test::CertFiles& cert, const std::string& cipher) {
    test::PeerOptions o;
    o.cert = cert.cert;
    o.key = cert.key;
    o.trust_ca = w.dir / "pki" / "ca.pem";
    o.verify_host = "sip.ward.test";
    o.min_version = TLS1_2_VERSION;
    o.max_version = TLS1_2_VERSION;
    o.cipher_list = cipher;
    auto ctx = test::make_peer_ctx(o);
    test::TlsClient client(w.listener_port("sip-tls"), ctx.get(), "sip.ward.test");
    INFO(client.error());
    return client.ok() && std::string(SSL_get_cipher_name(client.ssl())) == cipher;
}

}  // namespace

TEST_CASE("console e2e: the banner before and after login - a Secure HttpOnly SameSite cookie - logout ends the session") {
    ConsoleWard w;
    auto f = w.scenario("login", {"user=admin", "password=console-admin-1"});
    const std::string banner = "This system is for authorised use only. Activity is logged.";
    CHECK(contains(str(f.at("before")), banner));
    CHECK(contains(str(f.at("after")), banner));
    CHECK(str(f.at("landing")) == "System > Security > Settings");
    const auto& cookie = f.at("cookie").as_array().at(0).as_object();
    CHECK(str(cookie.at("name")) == "__Host-ward_session");
    CHECK(f.at("cookie_alone").as_int64() == 401);
    CHECK(f.at("cookie_and_key").as_int64() == 200);
    CHECK(cookie.at("httpOnly").as_bool());
    CHECK(cookie.at("secure").as_bool());
    CHECK(str(cookie.at("sameSite")) == "Strict");
    CHECK(f.at("after_logout").as_int64() == 401);
    CHECK(fs::exists(kScreenshots / "login.png"));
}

TEST_CASE("console e2e: two administrators edit the same TLS context - the second is told of the conflict") {
    ConsoleWard w;
    auto f = w.scenario("conflict", {"user=admin", "password=console-admin-1",
                                     "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    CHECK(contains(str(f.at("first")), "Saved Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"));
    CHECK(contains(str(f.at("second")), "changed by someone else"));
    // The first change is in the file; the second never overwrote it.
    CHECK(contains(w.ward->output(), "reloaded: configuration generation 2"));
    CHECK_FALSE(contains(w.ward->output(), "reloaded: configuration generation 3"));
}

TEST_CASE("console e2e: an auditor sees no Save button - the API refuses the change - the audit chain is shown intact") {
    ConsoleWard w;
    auto f = w.scenario("auditor", {"user=audrey", "password=console-auditor-1",
                                    "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    for (const auto& [page, count] : f.at("buttons").as_object()) {
        INFO(std::string(page));
        CHECK(count.as_int64() == 0);
    }
    CHECK(f.at("put_status").as_int64() == 403);
    CHECK(contains(str(f.at("chain")), "The hash chain is intact"));
}

TEST_CASE("console e2e: a peer subject added and selected with a cipher in the console - proven on the wire") {
    ConsoleWard w;
    const auto trunk = w.issue("trunk.example.net");
    const auto other = w.issue("other.example.net");
    const std::string cipher = "ECDHE-ECDSA-CHACHA20-POLY1305";
    // Before: neither the subject nor the cipher is selected.
    CHECK_FALSE(sip_accepts(w, trunk, cipher));
    auto f = w.scenario("peer_subject", {"user=admin", "password=console-admin-1", "subject=trunk.example.net",
                                         "cipher=" + cipher, "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    CHECK(contains(str(f.at("added")), "Added trunk.example.net"));
    CHECK(contains(str(f.at("duplicate")), "'trunk.example.net' is already a peer subject"));
    CHECK(f.at("rows").as_int64() == 1);
    CHECK(contains(str(f.at("mode_note")), "standard mode allows"));
    CHECK(contains(str(f.at("saved")), "Saved Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"));
    CHECK(any_contains(f.at("selected_subjects"), "trunk.example.net"));
    CHECK(any_contains(f.at("selected_ciphers"), cipher));
    // On the wire: the SIP listener takes the subject with the cipher; another subject is refused.
    CHECK(sip_accepts(w, trunk, cipher));
    CHECK_FALSE(sip_accepts(w, other, cipher));
}

TEST_CASE("console e2e: a certificate uploaded in the console appears in the list and in the context") {
    ConsoleWard w;
    const auto peer = w.issue("uploaded.example.net");
    auto f = w.scenario("upload", {"user=admin", "password=console-admin-1", "store=sip-trust", "pem=" + peer.cert.string(),
                                   "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    CHECK(contains(str(f.at("changes")), "added 'uploaded.example.net' to tls_peer_subjects"));
    CHECK(contains(str(f.at("changes")), "selected 'uploaded.example.net' in TLS context 'Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context'"));
    CHECK(any_contains(f.at("listed"), "uploaded.example.net"));
    CHECK(any_contains(f.at("subjects"), "uploaded.example.net"));
    CHECK(any_contains(f.at("selected"), "uploaded.example.net"));
    CHECK(sip_accepts(w, peer, "ECDHE-ECDSA-AES128-GCM-SHA256"));
}

TEST_CASE("console e2e: a listener restarted from Control Center while a relayed session on it keeps working") {
    test::TcpBackend echo(test::TcpBackend::Mode::echo);
    ConsoleWard w([&](std::string yaml) {
        return std::regex_replace(yaml, std::regex(R"(backends: \[127\.0\.0\.1:25280\])"), "backends: [" + echo.endpoint() + "]");
    });
    test::PeerOptions o;
    o.trust_ca = w.dir / "pki" / "ca.pem";
    o.verify_host = "xmpp.ward.test";
    auto ctx = test::make_peer_ctx(o);
    const auto before = w.listener_port("https");
    test::TlsClient session(before, ctx.get(), "xmpp.ward.test");
    INFO(session.error());
    REQUIRE(session.ok());
    REQUIRE(session.send("before restart\n"));
    CHECK(session.read_until("before restart\n") == "before restart\n");
    auto f = w.scenario("restart", {"user=admin", "password=console-admin-1", "listener=https"});
    CHECK(contains(str(f.at("result")), "Restarted https"));
    CHECK(contains(str(f.at("result")), "listener https re-opened"));
    // The established session goes on; new connections reach the re-opened listener.
    REQUIRE(session.send("after restart\n"));
    CHECK(session.read_until("after restart\n") == "after restart\n");
    const auto after = w.listener_port("https");
    CHECK(after != before);
    test::TlsClient fresh(after, ctx.get(), "xmpp.ward.test");
    CHECK(fresh.ok());
}

namespace {

// What a client sees of the c2s listener before TLS: the features after its stream header.
std::string c2s_features(std::uint16_t port) {
    const int fd = test::connect_tcp(port);
    REQUIRE(fd >= 0);
    REQUIRE(test::send_raw(fd, "<?xml version='1.0'?><stream:stream to='ward.test' xmlns='jabber:client' "
                               "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"));
    auto features = test::read_raw_until(fd, "</stream:features>", 15s);
    ::close(fd);
    return features;
}

}  // namespace

TEST_CASE("console e2e: the client-to-node secure mode switched off and on in Settings - as a client sees it") {
    test::TempDir prosody_dir("console-prosody");
    e2e::Prosody prosody(prosody_dir.path(), "ward.test", {"alice"});
    const auto backend = "127.0.0.1:" + std::to_string(prosody.c2s_port());
    ConsoleWard w([&](std::string yaml) {
        return std::regex_replace(yaml, std::regex(R"(backends: \[127\.0\.0\.1:25222\])"), "backends: [" + backend + "]");
    });
    const std::string required = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
    auto on = c2s_features(w.listener_port("c2s"));
    INFO(on);
    CHECK(contains(on, required));

    auto off = w.scenario("secure_mode", {"user=admin", "password=console-admin-1", "on=false"});
    CHECK(contains(str(off.at("notice")), "Listeners affected: c2s, c2s-direct"));
    CHECK(contains(str(off.at("notice")), "Established sessions keep the mode they started with"));
    auto plain = c2s_features(w.listener_port("c2s"));
    INFO(plain);
    CHECK_FALSE(contains(plain, "<required/>"));
    CHECK(contains(plain, "urn:ietf:params:xml:ns:xmpp-tls"));  // still offered
    CHECK(contains(plain, "urn:ietf:params:xml:ns:xmpp-sasl"));  // prosody's own features
    auto back = w.scenario("secure_mode", {"user=admin", "password=console-admin-1", "on=true"});
    CHECK(contains(str(back.at("notice")), "Saved."));
    auto again = c2s_features(w.listener_port("c2s"));
    INFO(again);
    CHECK(contains(again, required));
}

TEST_CASE("console e2e: the security mode page lists what fips mode forbids before anything is saved") {
    ConsoleWard w;
    const auto before = test::read_text_file(w.config);
    auto f = w.scenario("security_mode", {"user=admin", "password=console-admin-1", "mode=fips"});
    INFO(str(f.at("check")));
    CHECK(contains(str(f.at("check")), "does not pass 'ward check'"));
    CHECK(contains(str(f.at("check")), "'X25519' is not allowed in fips mode"));
    CHECK_FALSE(f.at("save_enabled").as_bool());
    CHECK(test::read_text_file(w.config) == before);
}

TEST_CASE("console e2e: every page works 400 px wide with every control labelled") {
    ConsoleWard w;
    auto f = w.scenario("narrow", {"user=admin", "password=console-admin-1",
                                   "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    for (const auto& [page, seen] : f.at("pages").as_object()) {
        INFO(std::string(page) << ": " << json::serialize(seen));
        CHECK(seen.as_object().at("overflow").as_int64() <= 0);
        CHECK(seen.as_object().at("unlabelled").as_array().empty());
        CHECK(seen.as_object().at("unnamed").as_int64() == 0);
    }
}
