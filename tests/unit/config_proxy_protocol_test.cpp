// SPDX-License-Identifier: Apache-2.0
// Configuration of the PROXY protocol: proxy_protocol (to backends) and accept_proxy_protocol
// (from load balancers): address blocks, exact diagnostics, the write-back round trip.
#include <doctest/doctest.h>

#include <arpa/inet.h>

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
    ward::test::TempDir dir{"config-proxy"};
    const fs::path& path = dir.path();
    ward::test::TestPki pki{path};  // server.pem, server.key, trust/
};

const std::string kTop =
    "certificates: { server: { cert: server.pem, key: server.key } }\n"
    "trust_stores: { t: { dir: trust } }\n"
    "tls_contexts: { in: { certificate: server, trust_store: t } }\n";

bool in(const Network& n, const char* address) {
    std::array<std::uint8_t, 16> b{};
    const bool v6 = std::string(address).find(':') != std::string::npos;
    REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, address, b.data()) == 1);
    return n.contains(v6, b.data());
}

Network net(const char* text) {
    std::string why;
    auto n = parse_network(text, why);
    REQUIRE_MESSAGE(n, why);
    return *n;
}

}  // namespace

TEST_CASE("proxy protocol: address blocks match by prefix - IPv4-mapped IPv6 as IPv4") {
    CHECK(in(net("10.0.0.0/8"), "10.200.3.4"));
    CHECK_FALSE(in(net("10.0.0.0/8"), "11.0.0.1"));
    CHECK(in(net("10.0.0.0/8"), "::ffff:10.1.2.3"));
    CHECK(in(net("127.0.0.1"), "127.0.0.1"));
    CHECK_FALSE(in(net("127.0.0.1"), "127.0.0.2"));
    CHECK(in(net("192.168.1.128/25"), "192.168.1.200"));
    CHECK_FALSE(in(net("192.168.1.128/25"), "192.168.1.127"));
    CHECK(in(net("0.0.0.0/0"), "203.0.113.9"));
    CHECK_FALSE(in(net("0.0.0.0/0"), "2001:db8::1"));
    CHECK(in(net("2001:db8::/32"), "2001:db8:ffff::1"));
    CHECK_FALSE(in(net("2001:db8::/32"), "2001:db9::1"));
    CHECK_FALSE(in(net("2001:db8::/32"), "10.0.0.1"));
    CHECK(in(net("fc00::/7"), "fdff::1"));
    CHECK_FALSE(in(net("fd00::/8"), "fe80::1"));

    // IPv4 clients on a dual-stack listener arrive IPv4-mapped: only IPv4 networks hold them.
    CHECK_FALSE(in(net("::/64"), "::ffff:203.0.113.9"));
    CHECK_FALSE(in(net("::/0"), "::ffff:203.0.113.9"));
    CHECK(in(net("10.0.0.0/8"), "::ffff:10.9.9.9"));
    const auto mapped = net("::ffff:10.0.0.0/104");
    CHECK_FALSE(mapped.v6);
    CHECK(mapped.prefix == 8);
    CHECK(in(mapped, "10.1.2.3"));
    CHECK(in(mapped, "::ffff:10.1.2.3"));
    CHECK_FALSE(in(mapped, "11.1.2.3"));

    std::string why;
    CHECK_FALSE(parse_network("10.0.0.1/8", why));
    CHECK(why == "has address bits set past its prefix length (write the network's first address)");
    CHECK_FALSE(parse_network("10.0.0.0/33", why));
    CHECK(why == "has no valid prefix length (0 to 32)");
    CHECK_FALSE(parse_network("10.0.0.0/", why));
    CHECK_FALSE(parse_network("lb.example", why));
    CHECK(why == "is not an IPv4 or IPv6 address, or an address/prefix-length");
    CHECK_FALSE(parse_network("::/129", why));
    CHECK(why == "has no valid prefix length (0 to 128)");
}

TEST_CASE("proxy protocol: settings load - round trip through the writer") {
    Folder f;
    const std::string yaml = kTop +
                             "listeners:\n"
                             "  - name: c2s\n    protocol: xmpp-client\n    bind: 127.0.0.1:5222\n"
                             "    backends: [127.0.0.1:5223]\n    tls_context: in\n    xmpp: { domains: [a.test] }\n"
                             "    proxy_protocol: v2\n    accept_proxy_protocol: [10.0.0.0/8, '2001:db8::1']\n"
                             "  - name: plain\n    protocol: tls\n    bind: 127.0.0.1:443\n"
                             "    backends: [127.0.0.1:8443]\n    tls_context: in\n";
    auto r = load_string(yaml, f.path / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    const auto& l = r.config->listeners;
    CHECK(l[0].proxy_protocol == ProxyProtocol::v2);
    REQUIRE(l[0].accept_proxy_protocol.size() == 2);
    CHECK(l[0].accept_proxy_protocol[0].prefix == 8);
    CHECK(l[0].accept_proxy_protocol[1].v6);
    CHECK(l[0].accept_proxy_protocol[1].prefix == 128);
    CHECK(l[1].proxy_protocol == ProxyProtocol::off);
    CHECK(l[1].accept_proxy_protocol.empty());
    const auto text = to_yaml(*r.config);
    auto again = load_string(text, f.path / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->listeners == r.config->listeners);
}

TEST_CASE("proxy protocol: every mistake is reported at its place") {
    Folder f;
    const std::string yaml = kTop +
        "listeners:\n"
        "  - name: a\n    protocol: tls\n    bind: 127.0.0.1:443\n    backends: [127.0.0.1:8443]\n"
        "    tls_context: in\n    proxy_protocol: v1\n    accept_proxy_protocol: [10.0.0.1/8, lb.example, 10.0.0.0/40]\n"
        "  - name: b\n    protocol: tls-outbound\n    bind: 127.0.0.1:8080\n    backends: [remote.example:443]\n"
        "    tls_context: in\n    proxy_protocol: v2\n    accept_proxy_protocol: [127.0.0.1]\n"
        "  - name: c\n    protocol: tls\n    bind: 127.0.0.1:444\n    backends: [127.0.0.1:8443]\n"
        "    tls_context: in\n    accept_proxy_protocol: 10.0.0.0/8\n";
    auto r = load_string(yaml, f.path / "x.yaml");
    const auto file = (f.path / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":10:21: error: listeners[0].proxy_protocol: 'v1' is not a PROXY protocol version (off, v2); did you mean 'v2'?",
        file + ":11:29: error: listeners[0].accept_proxy_protocol[0]: '10.0.0.1/8' has address bits set past its prefix "
               "length (write the network's first address)",
        file + ":11:41: error: listeners[0].accept_proxy_protocol[1]: 'lb.example' is not an IPv4 or IPv6 address, or an "
               "address/prefix-length",
        file + ":11:53: error: listeners[0].accept_proxy_protocol[2]: '10.0.0.0/40' has no valid prefix length (0 to 32)",
        file + ":24:28: error: listeners[2].accept_proxy_protocol: expected a list of addresses or address/prefix-length",
        file + ":17:21: error: listeners[1].proxy_protocol: a tls-outbound listener originates TLS to servers elsewhere: "
               "it sends them no PROXY header",
        file + ":18:28: error: listeners[1].accept_proxy_protocol: a tls-outbound listener takes local plaintext only: "
               "no load balancer sits in front of it",
    }));
}

TEST_CASE("proxy protocol: trusting every address is loaded with a warning") {
    Folder f;
    const std::string yaml = kTop +
                             "listeners:\n"
                             "  - name: a\n    protocol: tls\n    bind: 127.0.0.1:443\n    backends: [127.0.0.1:8443]\n"
                             "    tls_context: in\n    accept_proxy_protocol: [0.0.0.0/0, 10.0.0.0/8, '::/0']\n";
    auto r = load_string(yaml, f.path / "x.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    const auto file = (f.path / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":10:29: warning: listeners[0].accept_proxy_protocol[0]: '0.0.0.0/0' trusts every IPv4 address: any "
               "client reaching this listener can claim to be anyone; name the load balancers' addresses",
        file + ":10:52: warning: listeners[0].accept_proxy_protocol[2]: '::/0' trusts every IPv6 address: any "
               "client reaching this listener can claim to be anyone; name the load balancers' addresses",
    }));
}
