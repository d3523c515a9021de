// SPDX-License-Identifier: Apache-2.0
// Configuration: exact diagnostics (text and position), defaults, references, value syntax,
// and the write-back round trip.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace ward::config;

namespace {

using ward::test::lines_of;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Folder {
    ward::test::TempDir dir{"config"};
    const fs::path& path = dir.path();
    Folder() { fs::create_directories(path / "pki" / "trust"); }
    fs::path write(const std::string& name, const std::string& text) const {
        ward::test::write_text_file(path / name, text);
        return path / name;
    }
};

}  // namespace

TEST_CASE("several independent errors are all reported - each with file:line:col and the setting's path") {
    const std::string yaml =
        "security:\n"                                 // 1
        "  mode: fipz\n"                              // 2
        "  xmpp:\n"                                   // 3
        "    client_to_node_secure: maybe\n"          // 4
        "tls_peer_subjects:\n"                        // 5
        "  - subject: peer.example\n"                 // 6
        "tls_contexts:\n"                             // 7
        "  sip:\n"                                    // 8
        "    verify_peer: none\n"                     // 9
        "    min_version: TLS1.4\n"                   // 10
        "    ciphres: [FOO]\n"                        // 11
        "listeners:\n"                                // 12
        "  - name: a\n"                               // 13
        "    protocol: sip\n"                         // 14
        "    bind: 127.0.0.1:99999\n"                 // 15
        "    backends: [127.0.0.1:5060]\n"            // 16
        "    tls_context: sip\n"                      // 17
        "limits:\n"                                   // 18
        "  handshake_timeout: 10 parsecs\n";          // 19
    auto r = load_string(yaml, "ward.yaml");
    CHECK_FALSE(r.config);
    const std::vector<std::string> expected = {
        "ward.yaml:2:9: error: security.mode: 'fipz' is not a security mode (standard, fips, enhanced, "
        "common-criteria); did you mean 'fips'?",
        "ward.yaml:4:28: error: security.xmpp.client_to_node_secure: 'maybe' is not a boolean (true or false)",
        "ward.yaml:19:22: error: limits.handshake_timeout: '10 parsecs' is not a duration (a number with ms, s, m or "
        "h, e.g. 10s)",
        "ward.yaml:11:5: error: tls_contexts.sip.ciphres: unknown key 'ciphres'; did you mean 'ciphers'?",
        "ward.yaml:10:18: error: tls_contexts.sip.min_version: 'TLS1.4' is not a TLS version (TLS1.0, TLS1.1, TLS1.2, "
        "TLS1.3); did you mean 'TLS1.0'?",
        "ward.yaml:15:11: error: listeners[0].bind: '127.0.0.1:99999' has no valid port (1 to 65535)",
        "ward.yaml:17:18: error: listeners[0].tls_context: context 'sip' has no certificate, which a listener that "
        "accepts TLS needs",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
    CHECK(r.diagnostics.error_count() == 7);
}

TEST_CASE("unknown keys get a did-you-mean suggestion - or none when nothing is close") {
    auto r = load_string("node:\n  nmae: x\n  colour: blue\nlistners: []\n", "w.yaml");
    const std::vector<std::string> expected = {
        "w.yaml:4:1: error: listners: unknown key 'listners'; did you mean 'listeners'?",
        "w.yaml:2:3: error: node.nmae: unknown key 'nmae'; did you mean 'name'?",
        "w.yaml:3:3: error: node.colour: unknown key 'colour'",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
}

TEST_CASE("dangling references between sections are named with suggestions") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    const std::string yaml =
        "certificates:\n"
        "  node: { cert: pki/a.pem, key: pki/a.key }\n"
        "trust_stores:\n"
        "  xmpp-trust: { dir: pki/trust }\n"
        "tls_peer_subjects:\n"
        "  - { subject: peer.example.org, description: a peer }\n"
        "tls_contexts:\n"
        "  c1:\n"
        "    certificate: nod\n"
        "    trust_store: xmpp-trsut\n"
        "    peer_subjects: [peer.example.org, peer.example.com, PEER.EXAMPLE.ORG]\n"
        "listeners:\n"
        "  - { name: l1, protocol: tls, bind: '127.0.0.1:4433', backends: ['127.0.0.1:80'], tls_context: c2 }\n"
        "  - { name: l2, protocol: tls, bind: '0.0.0.0:4433', backends: ['127.0.0.1:80'], tls_context: c1 }\n";
    auto r = load_string(yaml, f.path / "ward.yaml");
    const auto file = (f.path / "ward.yaml").string();
    const std::vector<std::string> expected = {
        file + ":9:18: error: tls_contexts.c1.certificate: unknown certificate 'nod'; did you mean 'node'?",
        file + ":10:18: error: tls_contexts.c1.trust_store: unknown trust store 'xmpp-trsut'; did you mean "
               "'xmpp-trust'?",
        file + ":11:39: error: tls_contexts.c1.peer_subjects[1]: 'peer.example.com' is not in tls_peer_subjects; did "
               "you mean 'peer.example.org'?",
        file + ":11:57: error: tls_contexts.c1.peer_subjects[2]: 'PEER.EXAMPLE.ORG' is selected twice",
        file + ":13:97: error: listeners[0].tls_context: unknown TLS context 'c2'; did you mean 'c1'?",
        file + ":14:38: error: listeners[1].bind: 0.0.0.0:4433 is already bound by listener 'l1' (listeners[0])",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
}

TEST_CASE("files named in the configuration must exist - resolved against the configuration's folder") {
    Folder f;
    auto r = load_string("certificates:\n  x: { cert: pki/missing.pem, key: /nonexistent/k.pem }\n"
                         "trust_stores:\n  t: { dir: pki/nofolder }\n",
                         f.path / "ward.yaml");
    const auto file = (f.path / "ward.yaml").string();
    const std::vector<std::string> expected = {
        file + ":2:14: error: certificates.x.cert: file '" + (f.path / "pki/missing.pem").string() +
            "' does not exist",
        file + ":2:36: error: certificates.x.key: file '/nonexistent/k.pem' does not exist",
        file + ":4:13: error: trust_stores.t.dir: folder '" + (f.path / "pki/nofolder").string() + "' does not exist",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
}

TEST_CASE("YAML syntax errors point at the spot") {
    auto r = load_string("node:\n  name: [unclosed\n", "w.yaml");
    REQUIRE(r.diagnostics.all().size() == 1);
    const auto line = format(r.diagnostics.all()[0]);
    CHECK(line.rfind("w.yaml:3:1: error: YAML syntax: ", 0) == 0);
    CHECK_FALSE(r.partial);
}

TEST_CASE("repeated keys are errors - not silently merged") {
    auto r = load_string("node:\n  name: a\n  name: b\n", "w.yaml");
    CHECK(lines_of(r.diagnostics) == "w.yaml:3:3: error: node.name: repeated key 'name'\n");
}

TEST_CASE("an empty configuration gets the secure defaults") {
    auto r = load_string("node: { name: n }\n", "w.yaml");
    REQUIRE(r.config);
    const auto& c = *r.config;
    CHECK(c.security.mode == SecurityMode::standard);
    CHECK(c.security.xmpp.client_to_node_secure);
    CHECK(c.security.xmpp.router_to_router_secure);
    CHECK(c.security.xmpp.web_client_secure);
    CHECK(c.security.fips_provider == FipsProvider::required);
    CHECK(c.security.crl_missing == CrlMissing::reject);
    CHECK(c.limits.handshake_timeout == std::chrono::seconds(10));
    CHECK(c.limits.buffer_size == 16 * 1024);
    CHECK(c.metrics.bind.host == "127.0.0.1");
    CHECK_FALSE(c.admin.enabled);
    CHECK(c.workers == 0);
    TlsContext ctx;
    CHECK(ctx.verify_peer == VerifyPeer::required);
    CHECK(ctx.min_version == TlsVersion::tls1_2);
}

TEST_CASE("modes above standard refuse TLS 1.0 and 1.1 with the rule - standard warns") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    const std::string body =
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "tls_contexts:\n  c: { certificate: a, verify_peer: none, min_version: TLS1.1 }\n";
    auto fips = load_string("security: { mode: fips }\n" + body, f.path / "w.yaml");
    REQUIRE(fips.diagnostics.all().size() == 1);
    CHECK(format(fips.diagnostics.all()[0]) ==
          (f.path / "w.yaml").string() +
              ":4:56: error: tls_contexts.c.min_version: TLS1.1 is not allowed in fips mode: TLS 1.0 and 1.1 need "
              "MD5-SHA1, which FIPS 140 does not approve, and Common Criteria requires TLS 1.2 or later");
    auto standard = load_string("security: { mode: standard }\n" + body, f.path / "w.yaml");
    CHECK(standard.config);
    REQUIRE(standard.diagnostics.all().size() == 1);
    CHECK(standard.diagnostics.all()[0].severity == Severity::warning);
}

TEST_CASE("protocol rules: outbound listeners bind loopback - XMPP listeners name domains - options match protocol") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    const std::string yaml =
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "tls_contexts: { c: { certificate: a, verify_peer: none } }\n"
        "listeners:\n"
        "  - { name: o, protocol: sip-outbound, bind: '0.0.0.0:5070', backends: ['peer.example:5061'], tls_context: c }\n"
        "  - { name: x, protocol: xmpp-client, bind: '[::1]:5222', backends: ['[::1]:15222'], tls_context: c }\n"
        "  - { name: t, protocol: tls, bind: '127.0.0.1:443', backends: ['127.0.0.1:80'], tls_context: c,\n"
        "      sip: { identity_header: X-Peer } }\n";
    auto r = load_string(yaml, f.path / "w.yaml");
    const auto file = (f.path / "w.yaml").string();
    const std::vector<std::string> expected = {
        file + ":4:46: error: listeners[0].bind: a sip-outbound listener accepts plaintext, so it must bind to a "
               "loopback address",
        file + ":5:5: error: listeners[1].xmpp.domains: an XMPP listener must name the domains it serves",
        file + ":7:12: error: listeners[2].sip: sip options do not apply to a tls listener",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
}

TEST_CASE("web listener options: paths and origins are checked and apply to xmpp-web only") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    const std::string yaml =
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "tls_contexts: { c: { certificate: a, verify_peer: none } }\n"
        "listeners:\n"
        "  - name: w\n    protocol: xmpp-web\n    bind: 127.0.0.1:5443\n    backends: [127.0.0.1:5280]\n    tls_context: c\n"
        "    xmpp:\n      domains: [a.test]\n"
        "      web: { bosh_path: 'http-bind', websocket_path: '/a/../b', allowed_origins: ['https://a.test/x', 'ftp://a.test',\n"
        "             'https://a.test:0', 'https://ok.test:8443'], max_message_size: 10 }\n"
        "  - name: v\n    protocol: xmpp-web\n    bind: 127.0.0.1:5444\n    backends: [127.0.0.1:5280]\n    tls_context: c\n"
        "    xmpp: { domains: [a.test], web: { bosh_path: /same, websocket_path: /same } }\n"
        "  - name: x\n    protocol: xmpp-client\n    bind: 127.0.0.1:5222\n    backends: [127.0.0.1:15222]\n    tls_context: c\n"
        "    xmpp: { domains: [a.test], web: { bosh_path: /b } }\n"
        "  - name: y\n    protocol: xmpp-web\n    bind: 127.0.0.1:5445\n    backends: [127.0.0.1:5280]\n";
    auto r = load_string(yaml, f.path / "w.yaml");
    const auto file = (f.path / "w.yaml").string();
    const std::vector<std::string> expected = {
        file + ":11:25: error: listeners[0].xmpp.web.bosh_path: 'http-bind' is not an absolute path (it starts with '/' "
               "and has no query, fragment, '..', '//' or characters that need escaping)",
        file + ":11:54: error: listeners[0].xmpp.web.websocket_path: '/a/../b' is not an absolute path (it starts with '/' "
               "and has no query, fragment, '..', '//' or characters that need escaping)",
        file + ":11:83: error: listeners[0].xmpp.web.allowed_origins[0]: 'https://a.test/x' is not an origin (https://host "
               "or https://host:port)",
        file + ":11:103: error: listeners[0].xmpp.web.allowed_origins[1]: 'ftp://a.test' is not an origin (https://host "
               "or https://host:port)",
        file + ":12:14: error: listeners[0].xmpp.web.allowed_origins[2]: 'https://a.test:0' is not an origin (https://host "
               "or https://host:port)",
        file + ":12:77: error: listeners[0].xmpp.web.max_message_size: 10 is out of range (1KiB to 16MiB)",
        file + ":18:73: error: listeners[1].xmpp.web.websocket_path: is the same path as bosh_path",
        file + ":24:37: error: listeners[2].xmpp.web: web options apply only to xmpp-web listeners",
        file + ":25:5: error: listeners[3].tls_context: a xmpp-web listener needs a tls_context",
        file + ":25:5: error: listeners[3].xmpp.domains: an XMPP listener must name the domains it serves",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
    // Plain HTTP carries no certificate: not with a context that requires one.
    const std::string plain =
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "trust_stores: { t: { dir: pki/trust } }\n"
        "security: { xmpp: { web_client_secure: false } }\n"
        "tls_contexts: { c: { certificate: a, trust_store: t, verify_peer: required } }\n"
        "listeners:\n"
        "  - { name: w, protocol: xmpp-web, bind: 127.0.0.1:5443, backends: [127.0.0.1:5280], tls_context: c,\n"
        "      xmpp: { domains: [a.test], web: { request_timeout: 1000000h } } }\n";
    auto p = load_string(plain, f.path / "p.yaml");
    const auto pfile = (f.path / "p.yaml").string();
    CHECK(lines_of(p.diagnostics) ==
          lines_of(std::vector<std::string>{
              pfile + ":7:58: error: listeners[0].xmpp.web.request_timeout: '1000000h' is longer than 30 days",
              pfile + ":6:99: error: listeners[0].tls_context: web_client_secure is off, so this listener takes plain "
                      "HTTP, which carries no client certificate; context 'c' requires one (verify_peer: required)"}));
    CHECK(normalize_origin("HTTPS://Chat.Example:443") == "https://chat.example");
    CHECK(normalize_origin("http://[::1]") == "http://[::1]");
    CHECK(normalize_origin("https://chat.example:8443/") == std::nullopt);
    CHECK(normalize_origin("null") == std::nullopt);
    CHECK(is_http_path("/"));
    CHECK(is_http_path("/xmpp-websocket"));
    CHECK_FALSE(is_http_path("/a//b"));
    CHECK_FALSE(is_http_path("/a/"));
    CHECK_FALSE(is_http_path("/a%2f"));
    CHECK_FALSE(is_http_path("/a?b"));
}

TEST_CASE("a listener on port 0 needs a context and backends like any other - and no listener drains alone") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    const std::string yaml =
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "tls_contexts: { c: { certificate: a, verify_peer: none } }\n"
        "listeners:\n"
        "  - {name: x, protocol: tls, bind: 127.0.0.1:0}\n"
        "  - {name: y, protocol: tls, bind: 127.0.0.1:0, tls_context: c}\n"
        "  - {name: z, protocol: xmpp-server-outbound, bind: 127.0.0.1:0, tls_context: c, xmpp: {domains: [a.test]}}\n"
        "  - {name: w, protocol: tls, bind: 127.0.0.1:0, tls_context: c, backends: [127.0.0.1:9],\n"
        "     limits: {drain_timeout: 5s, idle_timeout: 1m}}\n";
    auto r = load_string(yaml, f.path / "w.yaml");
    const auto file = (f.path / "w.yaml").string();
    const std::vector<std::string> expected = {
        file + ":8:30: error: listeners[3].limits.drain_timeout: drain_timeout applies to the whole process when "
               "ward stops; set it in the top-level limits",
        file + ":4:5: error: listeners[0].tls_context: a tls listener needs a tls_context",
        file + ":4:5: error: listeners[0].backends: at least one backend is needed",
        file + ":5:5: error: listeners[1].backends: at least one backend is needed",
        file + ":6:79: error: listeners[2].tls_context: context 'c' has no trust_store to verify remote servers with",
        file + ":6:5: error: listeners[2].xmpp.routes: an xmpp-server-outbound listener needs routes",
    };
    CHECK(lines_of(r.diagnostics) == lines_of(expected));
    CHECK_FALSE(r.config.has_value());
}

TEST_CASE("the admin section needs its context - users and audit files - and a free port") {
    Folder f;
    const auto file = (f.path / "w.yaml").string();
    auto off = load_string("admin: { enabled: false }\n", f.path / "w.yaml");
    CHECK(off.diagnostics.all().empty());
    CHECK(off.config.has_value());
    auto r = load_string("admin: { enabled: false, password_iterations: 999, colour: blue }\n", f.path / "w.yaml");
    CHECK(lines_of(r.diagnostics) ==
          lines_of(std::vector<std::string>{
              file + ":1:52: error: admin.colour: unknown key 'colour'",
              file + ":1:47: error: admin.password_iterations: 999 is out of range (1000 to 10000000)",
          }));
    auto s = load_string("metrics: { bind: '127.0.0.1:9443' }\n"
                         "admin: { enabled: true, bind: '127.0.0.1:9443', session_timeout: 2h, session_lifetime: 1h }\n",
                         f.path / "w.yaml");
    CHECK(lines_of(s.diagnostics) ==
          lines_of(std::vector<std::string>{
              file + ":2:8: error: admin.tls_context: the admin API needs a tls_context",
              file + ":2:8: error: admin.users_file: the admin API needs a users_file (create it with 'ward admin user add')",
              file + ":2:8: error: admin.audit_file: the admin API needs an audit_file",
              file + ":2:88: error: admin.session_lifetime: is shorter than admin.session_timeout",
              file + ":2:31: error: admin.bind: 127.0.0.1:9443 is already bound by metrics",
          }));
}

TEST_CASE("value syntax: endpoints - durations - sizes") {
    std::string why;
    auto v6 = parse_endpoint("[::1]:5061", true, why);
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 5061);
    CHECK(v6->to_string() == "[::1]:5061");
    CHECK_FALSE(parse_endpoint("::1:5061", true, why));
    CHECK(why == "is an IPv6 address without brackets (write [IPv6]:port)");
    CHECK_FALSE(parse_endpoint("example.org:5061", true, why));
    CHECK(parse_endpoint("example.org:5061", false, why));
    CHECK_FALSE(parse_endpoint("127.0.0.1", false, why));
    CHECK(why == "has no port (write host:port, or [IPv6]:port)");
    CHECK_FALSE(parse_endpoint("127.0.0.1:0", false, why));
    CHECK(parse_endpoint("127.0.0.1:0", true, why));  // tests bind port 0

    CHECK(parse_duration("250ms") == Duration(250));
    CHECK(parse_duration("10s") == std::chrono::seconds(10));
    CHECK(parse_duration("5m") == std::chrono::minutes(5));
    CHECK_FALSE(parse_duration("10"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK(format_duration(std::chrono::seconds(90)) == "90s");
    CHECK(format_duration(std::chrono::minutes(5)) == "5m");

    CHECK(parse_size("16KiB") == 16384u);
    CHECK(parse_size("64 KiB") == 65536u);
    CHECK(parse_size("1MiB") == 1048576u);
    CHECK(parse_size("100") == 100u);
    CHECK_FALSE(parse_size("16KB"));
    CHECK(format_size(16384) == "16KiB");

    CHECK(binds_overlap("0.0.0.0", "127.0.0.1"));
    CHECK_FALSE(binds_overlap("0.0.0.0", "::1"));
    CHECK(binds_overlap("::", "::1"));
    CHECK_FALSE(binds_overlap("127.0.0.1", "127.0.0.2"));

    CHECK(first_invalid_utf8("h\xc3\xa9llo") == std::string::npos);
    CHECK(first_invalid_utf8("ab\xc3") == 2);
    CHECK(first_invalid_utf8("\xc0\xaf") == 0);  // overlong '/'
}

TEST_CASE("the model written back loads into an equal model (round trip)") {
    Folder f;
    f.write("pki/a.pem", "x");
    f.write("pki/a.key", "x");
    f.write("banner.txt", "Authorised use only.\n");
    const std::string yaml =
        "node: { name: n1, banner_file: banner.txt }\n"
        "user: ward\n"
        "pid_file: run/ward.pid\n"
        "security:\n  mode: common-criteria\n  fips_provider: policy-only\n  crl_missing: accept\n"
        "  xmpp: { client_to_node_secure: false, router_to_router_secure: true, web_client_secure: false }\n"
        "workers: 3\n"
        "limits: { max_connections: 500, handshake_timeout: 2500ms, buffer_size: 32KiB }\n"
        "certificates: { a: { cert: pki/a.pem, key: pki/a.key } }\n"
        "trust_stores: { t: { dir: pki/trust } }\n"
        "tls_peer_subjects:\n  - { subject: p1.example, description: 'first: peer' }\n  - { subject: p2.example }\n"
        "tls_contexts:\n"
        "  c:\n    certificate: a\n    trust_store: t\n    peer_subjects: [p1.example, p2.example]\n"
        "    verify_peer: optional\n    ciphers: [TLS_AES_256_GCM_SHA384]\n    min_version: TLS1.3\n"
        "    groups: [P-384]\n"
        "listeners:\n"
        "  - name: s\n    protocol: sip\n    bind: '[::1]:5061'\n    backends: ['127.0.0.1:5060', 'sip.local:5060']\n"
        "    tls_context: c\n    limits: { idle_timeout: 1h }\n    sip: { max_body_size: 128KiB }\n"
        "  - name: x\n    protocol: xmpp-server-outbound\n    bind: '127.0.0.1:5299'\n    tls_context: c\n"
        "    xmpp: { domains: [a.example], routes: { b.example: 'b.example:5269' } }\n"
        "  - name: w\n    protocol: xmpp-web\n    bind: '0.0.0.0:5443'\n    backends: ['127.0.0.1:5280']\n"
        "    tls_context: c\n    xmpp:\n      domains: [a.example]\n"
        "      web: { bosh_path: /bosh, allowed_origins: ['https://App.Example:443', 'http://[::1]:8080'],\n"
        "             max_message_size: 1MiB, bosh_max_wait: 1m }\n"
        "metrics: { enabled: false, bind: '127.0.0.1:9999' }\n"
        "admin: { enabled: true, bind: '127.0.0.1:9443', tls_context: c, users_file: users.json, audit_file: audit.log,\n"
        "         session_timeout: 15m, lockout_attempts: 3, password_iterations: 1000, max_body_size: 2MiB }\n"
        "logging: { level: debug }\n";
    auto first = load_string(yaml, f.path / "ward.yaml");
    INFO(first.diagnostics.to_string());
    REQUIRE(first.config);
    const auto text = to_yaml(*first.config);
    auto second = load_string(text, f.path / "ward.yaml");
    INFO(text);
    INFO(second.diagnostics.to_string());
    REQUIRE(second.config);
    CHECK(first.config->same_settings(*second.config));
    CHECK(second.config->listeners[0].limits.idle_timeout == std::chrono::hours(1));
    CHECK(second.config->listeners[0].limits.max_connections == 500);
    CHECK(second.config->node.banner_file.written == "banner.txt");
    const auto& web = *second.config->listeners[2].xmpp->web;
    CHECK(web.allowed_origins == std::vector<std::string>{"https://app.example", "http://[::1]:8080"});
    CHECK(web.websocket_path == "/xmpp-websocket");
    CHECK(web.max_message_size == 1024 * 1024);
    // And a third pass changes nothing in the text.
    CHECK(to_yaml(*second.config) == text);
}

TEST_CASE("saving is atomic: the previous version is kept - and a crash before the rename leaves the old file") {
    Folder f;
    const auto file = f.write("ward.yaml", "node: { name: old }\n");
    REQUIRE(save_text_atomically(file, "node: { name: new }\n"));
    CHECK(read_file(file) == "node: { name: new }\n");
    CHECK(read_file(fs::path(file.string() + ".prev")) == "node: { name: old }\n");

    // A child process dies between writing the new file and renaming it over the old one.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        SaveOptions crash;
        crash.before_rename = [] { _exit(42); };
        (void)save_text_atomically(file, "node: { name: torn }\n", crash);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
    CHECK(read_file(file) == "node: { name: new }\n");
    auto r = load_file(file);
    REQUIRE(r.config);
    CHECK(r.config->node.name == "new");
}

TEST_CASE("source marks find the closest written parent") {
    SourceMap m;
    m.set("", {1, 1});
    m.set("tls_contexts.a", {5, 3});
    m.set("tls_contexts.a.ciphers[1]", {7, 20});
    CHECK(m.find("tls_contexts.a.ciphers[1]") == Mark{7, 20});
    CHECK(m.find("tls_contexts.a.ciphers[2]") == Mark{5, 3});
    CHECK(m.find("tls_contexts.a.groups") == Mark{5, 3});
    CHECK(m.find("listeners[0].bind") == Mark{1, 1});
}
