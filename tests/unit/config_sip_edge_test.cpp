// SPDX-License-Identifier: Apache-2.0
// Configuration of SIP edge routing: sip.return_bind and sip.advertised, where they apply, the
// loopback rule, the write-back round trip, and every mistake at its file:line:col.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace ward::config;

namespace {

using ward::test::lines_of;

struct Folder {
    ward::test::TempDir dir{"config-sip-edge"};
    const fs::path& path = dir.path();
    ward::test::TestPki pki{path};
};

const std::string kTop =
    "certificates: { server: { cert: server.pem, key: server.key } }\n"
    "trust_stores: { t: { dir: trust } }\n"
    "tls_contexts: { in: { certificate: server, trust_store: t } }\n";

}  // namespace

TEST_CASE("sip edge config: return_bind and advertised load and round trip through the writer") {
    Folder f;
    const std::string yaml = kTop +
                             "listeners:\n"
                             "  - name: sip-in\n    protocol: sip\n    bind: 0.0.0.0:5061\n"
                             "    backends: [127.0.0.1:5060]\n    tls_context: in\n"
                             "    sip: { return_bind: 127.0.0.1:5070, advertised: sip.example.com:5061 }\n"
                             "  - name: plain\n    protocol: sip\n    bind: 127.0.0.1:5062\n"
                             "    backends: [127.0.0.1:5060]\n    tls_context: in\n";
    auto r = load_string(yaml, f.path / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    const auto& l = r.config->listeners;
    REQUIRE(l[0].sip->return_bind);
    CHECK(l[0].sip->return_bind->to_string() == "127.0.0.1:5070");
    CHECK(l[0].sip->advertised->to_string() == "sip.example.com:5061");
    CHECK_FALSE(l[1].sip->return_bind);
    const auto text = to_yaml(*r.config);
    auto again = load_string(text, f.path / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->listeners == r.config->listeners);
}

TEST_CASE("sip edge config: every mistake is reported at its place") {
    Folder f;
    const std::string yaml = kTop +
        "listeners:\n"
        "  - name: a\n    protocol: sip\n    bind: 0.0.0.0:5061\n    backends: [127.0.0.1:5060]\n"
        "    tls_context: in\n    sip: { return_bind: 192.0.2.1:5070 }\n"
        "  - name: b\n    protocol: sip-outbound\n    bind: 127.0.0.1:5080\n    backends: [peer.example:5061]\n"
        "    tls_context: in\n    sip: { return_bind: 127.0.0.1:5071 }\n"
        "  - name: c\n    protocol: sip\n    bind: 127.0.0.1:5063\n    backends: [127.0.0.1:5060]\n"
        "    tls_context: in\n    sip: { return_bind: 127.0.0.1:5063, identity_header: Route }\n"
        "  - name: d\n    protocol: sip-return\n    bind: 127.0.0.1:5090\n    backends: [127.0.0.1:5060]\n"
        "    tls_context: in\n"
        "  - name: e\n    protocol: sip\n    bind: 127.0.0.1:5064\n    backends: [127.0.0.1:5060]\n"
        "    tls_context: in\n    sip: { return_bind: 'localhost:5072' }\n"
        "  - name: e/return\n    protocol: tls\n    bind: 127.0.0.1:5065\n    backends: [127.0.0.1:5060]\n"
        "    tls_context: in\n";
    auto r = load_string(yaml, f.path / "x.yaml");
    const auto file = (f.path / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":22:58: error: listeners[2].sip.identity_header: 'Route' is a header ward reads or rewrites; choose another name",
        file + ":10:25: error: listeners[0].sip.return_bind: the return listener takes plaintext requests that ward sends "
               "into its peers' TLS connections, so it must bind to a loopback address",
        file + ":10:10: error: listeners[0].sip.advertised: the listener binds to a wildcard address, so ward cannot tell "
               "peers where to reach it: set sip.advertised to the host:port peers connect to",
        file + ":16:25: error: listeners[1].sip.return_bind: edge routing applies to sip listeners, which take TLS from peers",
        file + ":22:25: error: listeners[2].sip.return_bind: 127.0.0.1:5063 is already bound by listener 'c'",
        file + ":24:15: error: listeners[3].protocol: ward makes sip-return listeners itself: set sip.return_bind on the "
               "sip listener instead",
        file + ":33:25: error: listeners[4].sip.return_bind: name the loopback address (127.0.0.1 or ::1): it is written "
               "into Record-Route and Path for the backend to reach",
        file + ":33:25: error: listeners[4].sip.return_bind: its return listener is named 'e/return', which another "
               "listener uses",
    }));
}
