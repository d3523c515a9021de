// SPDX-License-Identifier: Apache-2.0
// Three ward binaries in one cluster on Debian's etcd, a Debian prosody behind each (n1.example,
// n2.example, n3.example; inbound s2s with mutual TLS, outbound s2s routed to the other wards,
// XMPP Direct TLS for clients). What the issue asks of a cluster, end to end:
//   - a node that joins is trusted by the others within its lease time;
//   - s2s between two nodes over mutual TLS with those replicated certificates (slixmpp sends
//     alice@n1.example -> bob@n2.example through prosody 1, ward 1, ward 2, prosody 2);
//   - a TLS 1.3 ticket from node 1 resumes on nodes 2 and 3 (openssl s_client -sess_out/-sess_in,
//     as a client of chat.example, which every node serves to clients);
//   - a partition: node 3 reaches etcd through an `etcd gateway` of its own, which is stopped:
//     the others drop node 3 when its lease ends, node 3 keeps its trust and keeps serving, and
//     rejoins when the gateway is back;
//   - etcd stopped and started: every node keeps serving and resumes its watch;
//   - a killed node's certificate leaves the others' stores after its lease.
#include <doctest/doctest.h>

#include <csignal>

#include <array>
#include <memory>
#include <regex>

#include "e2e_helpers.hpp"
#include "tests/e2e/prosody.hpp"
#include "tests/support/etcd_server.hpp"
#include "tests/support/xmpp_wire.hpp"

using namespace std::chrono_literals;
using namespace ward;
using ward::e2e::contains;
using ward::e2e::kFixtures;
using ward::e2e::Prosody;
using ward::test::BackgroundOptions;
using ward::test::BackgroundProcess;
namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, with slixmpp
constexpr auto kLease = 3s;

struct Node {
    std::string name;    // n1
    std::string domain;  // n1.example
    fs::path dir;
    std::uint16_t in = 0, out = 0, prosody_s2s = 0;
    std::unique_ptr<BackgroundProcess> dns;
    std::unique_ptr<Prosody> prosody;
    std::unique_ptr<test::WardProcess> ward;
    fs::path config;
};

std::unique_ptr<BackgroundProcess> etcd_gateway(std::uint16_t listen, std::uint16_t etcd) {
    auto g = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        "etcd", "gateway", "start", "--endpoints=127.0.0.1:" + std::to_string(etcd),
        "--listen-addr=127.0.0.1:" + std::to_string(listen), "--retry-delay=1s"});
    REQUIRE_MESSAGE(test::wait_for_port(listen, 10s), g->describe());
    return g;
}

// The stream header of a client of `domain`.
std::string stream_header(const std::string& domain) {
    return "<?xml version='1.0'?><stream:stream to='" + domain +
           "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
}

// `openssl s_client` over XMPP Direct TLS to a node, as a client of chat.example (the domain every
// node serves to clients, as behind a load balancer): TLS 1.3, resuming `sess_in` if given and
// keeping the session (with the ticket ward sent) in `sess_out`; waits for prosody's stream
// features through ward. Its output.
std::string direct_tls(const Node& n, const fs::path& ca, const fs::path& sess_out, const fs::path& sess_in = {}) {
    std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(n.ward->port("c2s")),
                                  "-servername", "chat.example", "-CAfile", ca.string(), "-tls1_3", "-ign_eof",
                                  "-sess_out", sess_out.string()};
    if (!sess_in.empty()) argv.insert(argv.end(), {"-sess_in", sess_in.string()});
    BackgroundOptions o;
    o.stdin_pipe = true;
    BackgroundProcess client(argv, o);
    REQUIRE(client.started());
    client.write_stdin(stream_header("chat.example"));
    const auto features = client.wait_for_output("<stream:features", 15s);
    INFO(client.describe());
    CHECK(features.has_value());
    // The ticket comes with the handshake, before the features: it is in the file now.
    client.close_stdin();
    client.signal(SIGTERM);
    client.wait_exit(10s);
    return client.output();
}

}  // namespace

TEST_CASE("cluster e2e: three nodes - trust within the lease - s2s over it - tickets resume anywhere - partition - etcd restart - a killed node leaves") {
    test::TempDir dir("e2e-cluster3");
    test::TestPki pki(dir.path() / "pki");
    test::EtcdServer etcd(dir.path() / "etcd");
    pki.issue("chat", test::xmpp_wire::server_spec({"chat.example"}, {"chat.example"}));

    std::array<Node, 3> nodes;
    for (int i = 0; i < 3; ++i) {
        auto& n = nodes[static_cast<std::size_t>(i)];
        n.name = "n" + std::to_string(i + 1);
        n.domain = n.name + ".example";
        n.dir = dir.path() / ("ward-" + n.name);
        fs::create_directories(n.dir / "nodes");
        // The secret that seals the shared ticket keys in etcd: the same on every node.
        test::write_text_file(n.dir / "ticket.secret", "e2e cluster ticket secret: 32 bytes or more");
        fs::permissions(n.dir / "ticket.secret", fs::perms::owner_read | fs::perms::owner_write);
        fs::create_directory_symlink(dir.path() / "pki", n.dir / "pki");
        pki.issue(n.name, test::xmpp_wire::server_spec({n.domain}, {n.domain}));
        n.in = test::reserve_port();
        n.out = test::reserve_port();
        n.prosody_s2s = test::reserve_port();
    }
    // Node 3 reaches etcd through a gateway of its own (the partition's switch).
    const auto gateway_port = test::reserve_port();
    auto gateway = etcd_gateway(gateway_port, etcd.port());

    // Each prosody resolves the other domains to its own ward's outbound listener.
    for (auto& n : nodes) {
        std::vector<std::string> argv{kPython, (kFixtures / "dns_stub.py").string()};
        for (const auto& other : nodes)
            if (other.name != n.name) argv.push_back(other.domain + "=127.0.0.1:" + std::to_string(n.out));
        n.dns = std::make_unique<BackgroundProcess>(argv);
        const auto port = n.dns->wait_for_output(std::regex(R"((\d+)\n)"), 10s);
        REQUIRE_MESSAGE(port, n.dns->describe());
        n.prosody = std::make_unique<Prosody>(dir.path() / n.domain, n.domain, std::vector<std::string>{"alice", "bob"},
                                              static_cast<std::uint16_t>(std::stoi(port->groups[1])), n.prosody_s2s,
                                              std::vector<std::pair<std::string, std::string>>{},
                                              std::vector<std::string>{"chat.example"});
        std::string routes;
        for (const auto& other : nodes) {
            if (other.name == n.name) continue;
            routes += (routes.empty() ? "" : ", ") + other.domain + ": '127.0.0.1:" + std::to_string(other.in) + "'";
        }
        const auto etcd_port = n.name == "n3" ? gateway_port : etcd.port();
        n.config = e2e::write_config(
            n.dir,
            "node: { name: " + n.name + " }\n"
            "certificates:\n"
            "  xmpp: { cert: pki/" + n.name + ".pem, key: pki/" + n.name + ".key }\n"
            "  chat: { cert: pki/chat.pem, key: pki/chat.key }\n"
            "trust_stores: { nodes: { dir: nodes } }\n"
            "tls_contexts:\n"
            "  s2s-in: { certificate: xmpp, trust_store: nodes, verify_peer: required }\n"
            "  s2s-out: { certificate: xmpp, trust_store: nodes }\n"
            "  c2s: { certificate: chat, verify_peer: none }\n"
            "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
            "workers: 1\n"
            "limits: { drain_timeout: 1s }\n"
            "listeners:\n"
            "  - { name: in, protocol: xmpp-server, bind: '127.0.0.1:" + std::to_string(n.in) + "', backends: ['127.0.0.1:" +
            std::to_string(n.prosody_s2s) + "'], tls_context: s2s-in, xmpp: { domains: [" + n.domain + "] } }\n"
            "  - { name: out, protocol: xmpp-server-outbound, bind: '127.0.0.1:" + std::to_string(n.out) +
            "', tls_context: s2s-out, xmpp: { domains: [" + n.domain + "], routes: { " + routes + " } } }\n"
            "  - { name: c2s, protocol: xmpp-client-tls, bind: '127.0.0.1:0', backends: ['127.0.0.1:" +
            std::to_string(n.prosody->c2s_port()) + "'], tls_context: c2s, xmpp: { domains: [chat.example] } }\n"
            "cluster:\n"
            "  name: c1\n"
            "  etcd: { endpoints: ['http://127.0.0.1:" + std::to_string(etcd_port) + "'] }\n"
            "  trust_store: nodes\n"
            "  publish_certificate: xmpp\n"
            "  lease_ttl: 3s\n"
            "  ticket_secret_file: ticket.secret\n");
    }
    const auto check = test::run_process({WARD_BINARY, "check", "-c", nodes[0].config.string()}, 20s);
    REQUIRE_MESSAGE(check.exit_code == 0, check.out << check.err);

    auto& n1 = nodes[0];
    auto& n2 = nodes[1];
    auto& n3 = nodes[2];
    const auto stored = [](const Node& n) { return "stored " + (n.dir / "nodes").string() + "/cluster-c1@"; };
    n1.ward = std::make_unique<test::WardProcess>(n1.config);
    n2.ward = std::make_unique<test::WardProcess>(n2.config);
    REQUIRE_MESSAGE(n1.ward->wait_for_log(stored(n1) + "n2.pem", 15s), n1.ward->log());
    REQUIRE_MESSAGE(n2.ward->wait_for_log(stored(n2) + "n1.pem", 15s), n2.ward->log());

    // A new node is trusted by the others within its lease time of publishing.
    const auto n1_from = n1.ward->log().size();
    const auto n2_from = n2.ward->log().size();
    n3.ward = std::make_unique<test::WardProcess>(n3.config);
    REQUIRE_MESSAGE(n3.ward->wait_for_log("cluster: published /ward/c1/nodes/n3", 15s), n3.ward->log());
    const auto published = std::chrono::steady_clock::now();
    REQUIRE_MESSAGE(n1.ward->wait_for_log(stored(n1) + "n3.pem", kLease, n1_from), n1.ward->log());
    REQUIRE_MESSAGE(n2.ward->wait_for_log(stored(n2) + "n3.pem", kLease, n2_from), n2.ward->log());
    CHECK(std::chrono::steady_clock::now() - published < kLease);
    REQUIRE_MESSAGE(n3.ward->wait_for_log(stored(n3) + "n1.pem", 15s), n3.ward->log());
    REQUIRE_MESSAGE(n3.ward->wait_for_log(stored(n3) + "n2.pem", 15s), n3.ward->log());

    // s2s between nodes 1 and 2 over mutual TLS with the replicated certificates.
    {
        auto bob = std::make_unique<BackgroundProcess>(std::vector<std::string>{
            kPython, (kFixtures / "slixmpp_client.py").string(), "--jid", "bob@n2.example", "--password",
            e2e::kPassword, "--port", std::to_string(n2.prosody->c2s_port()), "--plain", "--timeout", "30", "--expect",
            "through the cluster"});
        REQUIRE_MESSAGE(bob->wait_for_output("READY", 30s), bob->describe());
        const auto alice = test::run_process(
            {kPython, (kFixtures / "slixmpp_client.py").string(), "--jid", "alice@n1.example", "--password",
             e2e::kPassword, "--port", std::to_string(n1.prosody->c2s_port()), "--plain", "--timeout", "20", "--send-to",
             "bob@n2.example", "--body", "through the cluster"},
            40s);
        CHECK_MESSAGE(alice.exit_code == 0, alice.out << alice.err);
        REQUIRE_MESSAGE(bob->wait_exit(40s) == 0, bob->describe() << "\nward 1:\n" << n1.ward->log() << "\nward 2:\n"
                                                                 << n2.ward->log());
        CHECK(contains(bob->out(), "RECEIVED through the cluster"));
    }

    // A TLS 1.3 ticket from node 1 resumes on node 2 and on node 3.
    const auto ca = pki.ca().cert;
    const auto ticket1 = dir.path() / "ticket-n1.pem", ticket2 = dir.path() / "ticket-n2.pem";
    const auto first = direct_tls(n1, ca, ticket1);
    CHECK_MESSAGE(contains(first, "New, TLSv1.3"), first);
    REQUIRE(fs::file_size(ticket1) > 0);
    const auto on_n2 = direct_tls(n2, ca, ticket2, ticket1);
    CHECK_MESSAGE(contains(on_n2, "Reused, TLSv1.3"), on_n2);
    const auto on_n3 = direct_tls(n3, ca, dir.path() / "ticket-n3.pem", ticket2);
    CHECK_MESSAGE(contains(on_n3, "Reused, TLSv1.3"), on_n3);

    // `ward cluster status` from node 1: three nodes; node 1's metrics agree.
    const auto status = test::run_process({WARD_BINARY, "cluster", "status", "-c", n1.config.string()}, 20s);
    CHECK_MESSAGE(contains(status.out, ": 3 nodes"), status.out << status.err);
    CHECK_MESSAGE(std::regex_search(status.out, std::regex(R"(\nticket keys: rotated by n[123] at \d{4}-\d\d-\d\dT[\d:]+Z \(revision \d+\)\n)")),
                  status.out);
    const auto metrics = test::run_process(
        {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(n1.ward->metrics_port()) + "/metrics"}, 15s);
    CHECK(contains(metrics.out, "ward_cluster_nodes_trusted{cluster=\"c1\",node=\"n1\"} 3\n"));
    CHECK(contains(metrics.out, "ward_cluster_ticket_keys_shared{cluster=\"c1\",node=\"n1\"} 1\n"));

    // Partition: node 3 loses etcd. The others drop it when its lease ends; it keeps its trust
    // and keeps serving (a ticket from node 1 still resumes there).
    const auto removed = [](const Node& n, const std::string& who) {
        return "removed " + (n.dir / "nodes").string() + "/cluster-c1@" + who + ".pem";
    };
    auto from1 = n1.ward->log().size();
    auto from3 = n3.ward->log().size();
    gateway.reset();  // stopped (SIGTERM) and reaped
    REQUIRE_MESSAGE(n1.ward->wait_for_log(removed(n1, "n3"), kLease + 10s, from1), n1.ward->log());
    REQUIRE_MESSAGE(n3.ward->wait_for_log("cluster: publishing this node:", 10s, from3), n3.ward->log());
    const auto partitioned = direct_tls(n3, ca, dir.path() / "ticket-p.pem", ticket1);
    CHECK_MESSAGE(contains(partitioned, "Reused, TLSv1.3"), partitioned);
    CHECK_FALSE(contains(n3.ward->log().substr(from3), "removed "));
    from1 = n1.ward->log().size();
    gateway = etcd_gateway(gateway_port, etcd.port());
    REQUIRE_MESSAGE(n1.ward->wait_for_log(stored(n1) + "n3.pem", 20s, from1), n1.ward->log() << n3.ward->log());

    // etcd stops: every node keeps serving (full handshakes and resumptions); when it is back the
    // watches resume, and a killed node leaves the others' stores after its lease.
    from1 = n1.ward->log().size();
    etcd.stop();
    REQUIRE(n1.ward->wait_for_log("cluster: following the nodes:", 10s, from1));
    const auto away = direct_tls(n2, ca, dir.path() / "ticket-away.pem", ticket1);
    CHECK_MESSAGE(contains(away, "Reused, TLSv1.3"), away);
    const auto fresh = direct_tls(n1, ca, dir.path() / "ticket-fresh.pem");
    CHECK_MESSAGE(contains(fresh, "New, TLSv1.3"), fresh);
    etcd.start();
    REQUIRE_MESSAGE(n1.ward->wait_for_log("cluster: following the nodes again from revision", 20s, from1), n1.ward->log());
    const auto from2 = n2.ward->log().size();
    from1 = n1.ward->log().size();
    n3.ward->process().signal(SIGKILL);
    n3.ward->process().wait_exit(10s);
    REQUIRE_MESSAGE(n1.ward->wait_for_log(removed(n1, "n3"), kLease + 10s, from1), n1.ward->log());
    REQUIRE_MESSAGE(n2.ward->wait_for_log(removed(n2, "n3"), kLease + 10s, from2), n2.ward->log());
}
