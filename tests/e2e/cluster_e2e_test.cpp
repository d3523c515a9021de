// SPDX-License-Identifier: Apache-2.0
// The ward binary in a cluster on Debian's etcd: `ward run` publishes its certificate and trusts
// its own; `ward cluster status` shows the node with its certificate and lease; after a kill
// (no lease revoked) the node leaves the status when its lease ends.
#include <doctest/doctest.h>

#include <csignal>

#include "e2e_helpers.hpp"
#include "tests/support/etcd_server.hpp"
#include "tests/support/net_test_support.hpp"

using namespace std::chrono_literals;
using namespace ward;
using ward::e2e::contains;

TEST_CASE("cluster e2e: ward run publishes - ward cluster status lists it - a killed node leaves with its lease") {
    test::TempDir dir("e2e-cluster");
    test::TestPki pki(dir.path() / "pki");
    std::filesystem::create_directories(dir.path() / "nodes");
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    const auto config = e2e::write_config(
        dir.path(), "certificates: { server: { cert: pki/server.pem, key: pki/server.key } }\n"
                        "node: { name: n1 }\n"
                        "trust_stores: { nodes: { dir: nodes } }\n"
                        "tls_contexts: { s2s: { certificate: server, trust_store: nodes } }\n"
                        "listeners:\n"
                        "  - { name: s2s, protocol: tls, bind: 127.0.0.1:0, backends: [" + backend.endpoint() +
                        "], tls_context: s2s }\n"
                        "metrics: { enabled: false }\n"
                        "cluster:\n"
                        "  name: c1\n"
                        "  etcd: { endpoints: ['http://127.0.0.1:" + std::to_string(etcd.port()) + "'] }\n"
                        "  trust_store: nodes\n"
                        "  publish_certificate: server\n"
                        "  lease_ttl: 3s\n");
    const auto check = test::run_process({WARD_BINARY, "check", "-c", config.string()}, 20s);
    REQUIRE_MESSAGE(check.exit_code == 0, check.out << check.err);

    test::WardProcess ward(config);
    REQUIRE(ward.wait_for_log("cluster: published /ward/c1/nodes/n1", 10s));
    REQUIRE(ward.wait_for_log("reloaded: configuration generation 2", 10s));

    const auto status = test::run_process({WARD_BINARY, "cluster", "status", "-c", config.string()}, 20s);
    INFO(status.out << status.err);
    CHECK(status.exit_code == 0);
    CHECK(contains(status.out, "cluster c1: etcd " + etcd.url()));
    CHECK(contains(status.out, "c1/n1  server.test  "));
    CHECK(contains(status.out, "s left"));
    CHECK_FALSE(contains(status.out, "NOT TRUSTED"));

    // Killed: no lease is revoked; the key goes when the lease ends (3 s).
    ward.process().signal(SIGKILL);
    ward.process().wait_exit(10s);
    bool gone = false;
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (!gone && std::chrono::steady_clock::now() < until) {
        // Each status is a full round trip to etcd: no sleep between them is needed to wait.
        const auto later = test::run_process({WARD_BINARY, "cluster", "status", "-c", config.string()}, 20s);
        gone = later.exit_code == 0 && contains(later.out, ": 0 nodes");
    }
    CHECK(gone);

    // etcd away: a clear error and exit 69, not a hang.
    etcd.stop();
    const auto away = test::run_process({WARD_BINARY, "cluster", "status", "-c", config.string()}, 30s);
    CHECK(away.exit_code == 69);
    CHECK(contains(away.err, "etcd did not answer"));
}
