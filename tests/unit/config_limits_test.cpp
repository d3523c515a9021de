// SPDX-License-Identifier: Apache-2.0
// Configuration of the admission limits: max_handshakes_in_flight and per_source, at the top
// and per listener, their defaults, diagnostics and the write-back round trip.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

using namespace ward::config;

namespace {

using ward::test::lines_of;

const std::string kTop =
    "certificates: { server: { cert: server.pem, key: server.key } }\n"
    "tls_contexts: { in: { certificate: server, verify_peer: none } }\n";

}  // namespace

TEST_CASE("limits config: defaults - top-level values per listener - overrides - round trip") {
    ward::test::TempDir dir{"config-limits"};
    ward::test::TestPki pki{dir.path()};
    const std::string yaml = kTop +
                             "limits: { max_handshakes_in_flight: 500, per_source: { connections: 64 } }\n"
                             "listeners:\n"
                             "  - { name: a, protocol: tls, bind: '127.0.0.1:443', backends: ['127.0.0.1:8443'], "
                             "tls_context: in }\n"
                             "  - { name: b, protocol: tls, bind: '127.0.0.1:444', backends: ['127.0.0.1:8443'], "
                             "tls_context: in, limits: { per_source: { connections: 8, handshakes_per_second: 20 } } }\n";
    auto r = load_string(yaml, dir.path() / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    CHECK(Limits{}.max_handshakes_in_flight == 4096);
    CHECK(Limits{}.per_source.connections == 0);
    CHECK(Limits{}.per_source.handshakes_per_second == 0);
    const auto& a = r.config->listeners[0].limits;
    const auto& b = r.config->listeners[1].limits;
    CHECK(a.max_handshakes_in_flight == 500);
    CHECK(a.per_source.connections == 64);
    CHECK(a.per_source.handshakes_per_second == 0);
    CHECK(b.max_handshakes_in_flight == 500);
    CHECK(b.per_source.connections == 8);
    CHECK(b.per_source.handshakes_per_second == 20);
    const auto text = to_yaml(*r.config);
    auto again = load_string(text, dir.path() / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->limits == r.config->limits);
    CHECK(again.config->listeners == r.config->listeners);
}

TEST_CASE("limits config: every mistake is reported at its place") {
    ward::test::TempDir dir{"config-limits"};
    ward::test::TestPki pki{dir.path()};
    const std::string yaml = kTop +
                             "limits:\n  max_handshakes_in_flight: 0\n"
                             "  per_source: { connection: 3, handshakes_per_second: -1 }\n"
                             "listeners: []\n";
    auto r = load_string(yaml, dir.path() / "x.yaml");
    const auto file = (dir.path() / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":4:29: error: limits.max_handshakes_in_flight: 0 is out of range (1 to 10000000)",
        file + ":5:17: error: limits.per_source.connection: unknown key 'connection'; did you mean 'connections'?",
        file + ":5:55: error: limits.per_source.handshakes_per_second: -1 is out of range (0 to 1000000)",
    }));
}
