// SPDX-License-Identifier: Apache-2.0
// Two wards of one cluster on Debian's etcd, in process: each publishes its certificate, each
// keeps its cluster trust store equal to the live nodes' certificates (files, subjects, the
// contexts that use the store) and reloads; a node that leaves is no longer let in; what a
// node publishes is held to an import's rules; etcd away keeps the trust in force.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <functional>
#include <set>

#include "config/loader.hpp"
#include "proxy/cluster/etcd_client.hpp"
#include "proxy/cluster/status.hpp"
#include "proxy/cluster/tickets.hpp"
#include "../support/await.hpp"
#include "../support/etcd_server.hpp"
#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ward;
using test::TlsClient;

namespace {

// Waits until `predicate` holds, re-checking it whenever something changes in `dirs` (inotify)
// and at least every 100 ms (a reload follows the files it reacts to by a moment); false at the
// deadline. The members act on etcd's watch, which the test cannot hook directly.
bool eventually(const std::function<bool()>& predicate, const std::vector<fs::path>& dirs,
                std::chrono::milliseconds deadline = 15s) {
    const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    REQUIRE(fd >= 0);
    for (const auto& d : dirs) inotify_add_watch(fd, d.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_CLOSE_WRITE);
    const auto until = std::chrono::steady_clock::now() + deadline;
    bool held = predicate();
    while (!held && std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 100);
        char events[4096];
        while (::read(fd, events, sizeof events) > 0) {
        }
        held = predicate();
    }
    ::close(fd);
    return held;
}

std::set<std::string> files_in(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
    return out;
}

const std::string kTicketSecret = "the cluster's own ticket secret, 32 bytes or more";

cluster::TicketSeal seal_of(const std::string& cluster) {
    auto s = cluster::TicketSeal::derive(kTicketSecret, "/ward/" + cluster + "/tickets");
    REQUIRE(s);
    return *s;
}

struct Node {
    Node(const fs::path& root, const std::string& name, const test::CertFiles& cert, const test::TcpBackend& backend,
         std::uint16_t etcd_port, const std::string& extra = "", const std::string& cluster = "c1")
        : dir(root / name) {
        fs::create_directories(dir / "nodes");
        // The same secret on every node (the test's folder is its own).
        test::write_text_file(dir / "ticket.secret", kTicketSecret);
        fs::permissions(dir / "ticket.secret", fs::perms::owner_read | fs::perms::owner_write);
        const auto yaml =
            "node: { name: " + name + " }\n"
            "certificates: { xmpp: { cert: " + cert.cert.string() + ", key: " + cert.key.string() + " } }\n"
            "trust_stores: { cluster-nodes: { dir: nodes } }\n"
            "tls_contexts: { s2s: { certificate: xmpp, trust_store: cluster-nodes } }\n"
            "listeners:\n"
            "  - { name: s2s, protocol: tls, bind: 127.0.0.1:0, backends: [" + backend.endpoint() + "], tls_context: s2s }\n"
            "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
            "cluster:\n"
            "  name: " + cluster + "\n"
            "  etcd: { endpoints: ['http://127.0.0.1:" + std::to_string(etcd_port) + "'] }\n"
            "  trust_store: cluster-nodes\n"
            "  publish_certificate: xmpp\n"
            "  lease_ttl: 2s\n"
            "  ticket_secret_file: ticket.secret\n" + extra;
        test::write_text_file(dir / "ward.yaml", yaml);
        ward = std::make_unique<test::RunningWard>(dir / "ward.yaml");
    }
    fs::path dir;
    std::unique_ptr<test::RunningWard> ward;
    std::string config() const { return test::read_text_file(dir / "ward.yaml"); }
};

test::CertFiles node_cert(test::TestPki& pki, const std::string& name) {
    auto spec = test::TestPki::client_spec(name + ".test");
    spec.server_auth = true;
    spec.dns_names = {name + ".test"};
    return pki.issue(name, spec);
}

// A TLS client presenting `cert` sends a line through the listener: true when it came back.
bool let_in(std::uint16_t port, const test::CertFiles& cert) {
    test::PeerOptions o;
    o.cert = cert.cert;
    o.key = cert.key;
    auto ctx = test::make_peer_ctx(o);
    TlsClient c(port, ctx.get(), "");
    if (!c.ok() || !c.send("ping\n")) return false;
    return c.read(5, 3s) == "ping\n";
}

// The name of the key that sealed the TLS 1.3 ticket a client presenting `cert` gets from the
// listener (OpenSSL's ticket starts with it), "" when none came.
std::string sealing_key(std::uint16_t port, const test::CertFiles& cert) {
    test::PeerOptions o;
    o.cert = cert.cert;
    o.key = cert.key;
    o.min_version = TLS1_3_VERSION;
    auto ctx = test::make_peer_ctx(o);
    TlsClient c(port, ctx.get(), "");
    // The echo comes after the ticket: once it is read, the ticket is.
    if (!c.ok() || !c.send("ping\n") || c.read(5, 3s) != "ping\n") return {};
    const std::string ticket = test::session_ticket(c.ssl());
    return ticket.size() >= 16 ? ticket.substr(0, 16) : std::string();
}

std::string name_of(const tls::TicketKey& k) { return std::string(reinterpret_cast<const char*>(k.name.data()), k.name.size()); }

proxy::awaitable<void> keep_status(proxy::awaitable<Result<cluster::ClusterStatus>> op,
                                   std::optional<Result<cluster::ClusterStatus>>& out) {
    auto r = co_await std::move(op);
    out.emplace(std::move(r));
}

}  // namespace

TEST_CASE("cluster: nodes trust each other through etcd - a node that leaves is no longer let in") {
    test::TempDir dir("cluster");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    const auto n2 = node_cert(pki, "n2");
    const auto stranger = node_cert(pki, "stranger");  // same CA, never published
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);

    Node a(dir.path(), "n1", n1, backend, etcd.port());
    // Alone, a node trusts itself: its own certificate is the cluster's only one.
    REQUIRE(eventually([&] { return files_in(a.dir / "nodes") == std::set<std::string>{"cluster-c1@n1.pem"}; }, {a.dir / "nodes"}));
    {
        auto b = std::make_unique<Node>(dir.path(), "n2", n2, backend, etcd.port());
        const std::set<std::string> both{"cluster-c1@n1.pem", "cluster-c1@n2.pem"};
        REQUIRE(eventually([&] { return files_in(a.dir / "nodes") == both && files_in(b->dir / "nodes") == both; },
                           {a.dir / "nodes", b->dir / "nodes"}));
        // The subjects are in the list and selected in the context that uses the store.
        REQUIRE(eventually([&] { return a.config().find("n2.test") != std::string::npos; }, {a.dir}));
        const auto loaded = config::load_file(a.dir / "ward.yaml");
        REQUIRE(loaded.config);
        const auto* subject = loaded.config->find_peer_subject("n2.test");
        REQUIRE(subject);
        CHECK(subject->description == "cluster c1 node n2");
        CHECK(loaded.config->find_tls_context("s2s")->peer_subjects == std::vector<std::string>{"n1.test", "n2.test"});
        // The reload took effect: n2 gets into n1's listener, a stranger from the same CA does not.
        REQUIRE(eventually([&] { return let_in(a.ward->port("s2s"), n2); }, {a.dir}));
        CHECK(let_in(b->ward->port("s2s"), n1));
        CHECK_FALSE(let_in(a.ward->port("s2s"), stranger));
        // The status as etcd holds it: both nodes, their subjects, fingerprints and leases.
        {
            proxy::asio::io_context io;
            cluster::EtcdOptions o;
            o.endpoints = {{false, "127.0.0.1", etcd.port()}};
            cluster::EtcdClient client(io.get_executor(), o);
            std::optional<Result<cluster::ClusterStatus>> status;
            config::Cluster c;
            c.name = "c1";
            proxy::asio::co_spawn(io, keep_status(cluster::read_status(client, c), status), [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
            io.run();
            REQUIRE(status);
            REQUIRE_MESSAGE(*status, status->error());
            const auto& nodes = (*status)->nodes;
            REQUIRE(nodes.size() == 2);
            CHECK(nodes[0].node == "n1");
            CHECK(nodes[0].subject == "n1.test");
            CHECK(nodes[1].subject == "n2.test");
            CHECK(nodes[0].fingerprint.size() == 95);
            CHECK(nodes[0].lease_left > 0);
            CHECK(nodes[0].lease_left <= 2);
            CHECK(nodes[0].problem.empty());
            const auto text = cluster::format_status(**status, 0);
            CHECK(text.find("  c1/n2  n2.test  ") != std::string::npos);
        }
        // n2 stops (it revokes its lease, or the lease ends within its 2 s).
    }
    REQUIRE(eventually([&] { return files_in(a.dir / "nodes") == std::set<std::string>{"cluster-c1@n1.pem"}; }, {a.dir / "nodes"}));
    REQUIRE(eventually([&] { return a.config().find("n2.test") == std::string::npos; }, {a.dir}));
    REQUIRE(eventually([&] { return !let_in(a.ward->port("s2s"), n2); }, {a.dir}));
    CHECK(let_in(a.ward->port("s2s"), n1));
}

TEST_CASE("cluster: what a node publishes is held to an import's rules - etcd away keeps the trust in force") {
    test::TempDir dir("cluster-rules");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    const auto n2 = node_cert(pki, "n2");
    const auto marker = node_cert(pki, "marker");
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    Node a(dir.path(), "n1", n1, backend, etcd.port());
    REQUIRE(eventually([&] { return files_in(a.dir / "nodes").size() == 1; }, {a.dir / "nodes"}));

    // Others write under the prefix: a CA certificate, two certificates in one value, a node
    // name ward does not take, and n2's certificate under another cluster not imported.
    proxy::asio::io_context io;
    cluster::EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    cluster::EtcdClient client(io.get_executor(), o);
    const auto text = [](const fs::path& p) { return test::read_text_file(p); };
    auto put = [&](std::string key, std::string value) {
        const auto r = test::await_in(io, client.put(std::move(key), std::move(value)), 10s);
        REQUIRE_MESSAGE(r, r.error());
    };
    put("/ward/c1/nodes/ca", text(pki.ca().cert));
    put("/ward/c1/nodes/two", text(n2.cert) + text(n1.cert));
    put("/ward/c1/nodes/bad name", text(n2.cert));
    put("/ward/c2/nodes/n2", text(n2.cert));
    put("/ward/c1/nodes/n3", "not a certificate");
    // Nothing of that is trusted (the member logs each refusal once).
    put("/ward/c1/nodes/n1-again", text(n1.cert));  // n1's subject, which n1 holds
    put("/ward/c1/nodes/zz-marker", text(marker.cert));  // the last write: once it is in, the others were read
    REQUIRE(eventually([&] { return files_in(a.dir / "nodes").count("cluster-c1@zz-marker.pem") == 1; }, {a.dir / "nodes"}));
    CHECK(files_in(a.dir / "nodes") == std::set<std::string>{"cluster-c1@n1.pem", "cluster-c1@zz-marker.pem"});
    CHECK_FALSE(let_in(a.ward->port("s2s"), n2));

    // etcd stops: n1 keeps its trust and keeps serving.
    etcd.stop();
    CHECK(let_in(a.ward->port("s2s"), n1));
    CHECK(files_in(a.dir / "nodes").size() == 2);
    etcd.start();
    put("/ward/c1/nodes/n2", text(n2.cert));
    REQUIRE(eventually([&] { return let_in(a.ward->port("s2s"), n2); }, {a.dir}, 20s));
}

TEST_CASE("cluster: the nodes seal tickets with one key set - each rotation shifts it once - etcd away keeps it") {
    test::TempDir dir("cluster-tickets");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    const auto n2 = node_cert(pki, "n2");
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    Node a(dir.path(), "n1", n1, backend, etcd.port(), "  ticket_rotation: 2s\n");
    Node b(dir.path(), "n2", n2, backend, etcd.port(), "  ticket_rotation: 2s\n");

    // Every value the key takes, in order, from the beginning of etcd's history.
    proxy::asio::io_context io;
    cluster::EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    o.watch_wait = 10s;
    cluster::EtcdClient client(io.get_executor(), o);
    auto watch = test::await_in(io, client.watch("/ward/c1/tickets", 1));
    REQUIRE_MESSAGE(watch, watch.error());
    std::vector<cluster::TicketKeySet> sets;
    while (sets.size() < 4) {
        auto message = test::await_in(io, (*watch)->next(), 15s);
        REQUIRE_MESSAGE(message, message.error());
        for (const auto& e : message->events) {
            REQUIRE_FALSE(e.deleted);
            auto set = seal_of("c1").open(e.kv.value);
            REQUIRE_MESSAGE(set, set.error());
            sets.push_back(std::move(*set));
        }
    }
    // Both nodes race for every rotation; each put is exactly one shift of the set before it
    // (two winners of one rotation would show as a double shift), at least a period apart.
    for (std::size_t i = 1; i < sets.size(); ++i) {
        CAPTURE(i);
        CHECK(sets[i].previous == sets[i - 1].current);
        CHECK(sets[i].current == sets[i - 1].next);
        CHECK(sets[i].rotated >= sets[i - 1].rotated + 2);
        CHECK((sets[i].rotated_by == "n1" || sets[i].rotated_by == "n2"));
    }
    (*watch)->close();
    CHECK(tls::ticket_keys_shared());
    const auto has = [](const test::RunningWard& w, const std::string& line) {
        return test::fetch_metrics(w.metrics_port()).find(line) != std::string::npos;
    };
    const std::string shared_a = "ward_cluster_ticket_keys_shared{cluster=\"c1\",node=\"n1\"} 1\n";
    REQUIRE(eventually([&] { return has(*a.ward, shared_a); }, {a.dir}));
    CHECK(has(*b.ward, "ward_cluster_ticket_keys_shared{cluster=\"c1\",node=\"n2\"} 1\n"));
    CHECK(has(*a.ward, "ward_cluster_etcd_up{cluster=\"c1\",node=\"n1\"} 1\n"));

    // etcd away: the keys stay in force (stale), and after two periods without a rotation each
    // node seals with its own keys; once etcd answers, the cluster's set is back.
    etcd.stop();
    REQUIRE(eventually([&] { return has(*a.ward, "ward_cluster_etcd_up{cluster=\"c1\",node=\"n1\"} 0\n"); }, {a.dir}));
    CHECK(has(*a.ward, "ward_cluster_ticket_keys_shared{cluster=\"c1\",node=\"n1\"} 0\n"));
    REQUIRE(eventually([&] { return !tls::ticket_keys_shared(); }, {a.dir}));
    etcd.start();
    REQUIRE(eventually([&] { return has(*a.ward, shared_a) && tls::ticket_keys_shared(); }, {a.dir}, 20s));
}

TEST_CASE("cluster: a node trusts the nodes of a cluster it imports - read only - they do not trust it back") {
    test::TempDir dir("cluster-import");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    const auto m1 = node_cert(pki, "m1");
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    Node a(dir.path(), "n1", n1, backend, etcd.port(), "  import: [c2]\n", "c1");
    Node b(dir.path(), "m1", m1, backend, etcd.port(), "", "c2");
    REQUIRE(eventually([&] { return files_in(a.dir / "nodes") == std::set<std::string>{"cluster-c1@n1.pem", "cluster-c2@m1.pem"}; },
                       {a.dir / "nodes"}));
    REQUIRE(eventually([&] { return let_in(a.ward->port("s2s"), m1); }, {a.dir}));
    const auto loaded = config::load_file(a.dir / "ward.yaml");
    REQUIRE(loaded.config);
    REQUIRE(loaded.config->find_peer_subject("m1.test"));
    CHECK(loaded.config->find_peer_subject("m1.test")->description == "cluster c2 node m1");
    // c2 does not import c1: its node trusts only itself.
    REQUIRE(eventually([&] { return files_in(b.dir / "nodes") == std::set<std::string>{"cluster-c2@m1.pem"}; },
                       {b.dir / "nodes"}));
    CHECK_FALSE(let_in(b.ward->port("s2s"), n1));
    // Read only: nothing of c1's node is written under c2's prefix (each cluster has its own
    // ticket keys and nodes).
    proxy::asio::io_context io;
    cluster::EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    cluster::EtcdClient client(io.get_executor(), o);
    std::set<std::string> keys;
    const auto c2_keys = [&] {
        const auto c2 = test::await_in(io, client.range("/ward/c2/", true));
        REQUIRE(c2);
        keys.clear();
        for (const auto& kv : c2->kvs) keys.insert(kv.key);
        return keys.size() >= 2;
    };
    REQUIRE(eventually(c2_keys, {b.dir}));
    CHECK(keys == std::set<std::string>{"/ward/c2/nodes/m1", "/ward/c2/tickets"});
    const auto tickets = test::await_in(io, client.range("/ward/c2/tickets", false));
    REQUIRE(tickets);
    REQUIRE(tickets->kvs.size() == 1);
    const auto set = seal_of("c2").open(tickets->kvs[0].value);
    REQUIRE(set);
    CHECK(set->rotated_by == "m1");
}

// (Read from the tickets of an s2s context, which verifies its peers: the wolfSSL flavour issues
// none there; handshake_test.cpp checks shared keys on a context that issues them.)
TEST_CASE("cluster: tickets are sealed with the current key of the set in etcd - a set from the future is replaced - another etcd's set after a move" *
          doctest::skip(!ward::tls::flavour::kResumesVerifiedPeers)) {
    test::TempDir dir("cluster-seal");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    test::EtcdServer etcd1(dir.path() / "etcd1");
    test::EtcdServer etcd2(dir.path() / "etcd2");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    Node a(dir.path(), "n1", n1, backend, etcd1.port());
    proxy::asio::io_context io;
    auto client_of = [&](const test::EtcdServer& e) {
        cluster::EtcdOptions o;
        o.endpoints = {{false, "127.0.0.1", e.port()}};
        return std::make_unique<cluster::EtcdClient>(io.get_executor(), o);
    };
    auto c1 = client_of(etcd1);
    auto c2 = client_of(etcd2);
    const auto seal = seal_of("c1");
    std::optional<cluster::TicketKeySet> set;
    auto read_set = [&](cluster::EtcdClient& c) {
        const auto r = test::await_in(io, c.range("/ward/c1/tickets", false));
        REQUIRE(r);
        set.reset();
        if (r->kvs.empty()) return false;
        auto opened = seal.open(r->kvs[0].value);
        REQUIRE_MESSAGE(opened, opened.error());
        set = std::move(*opened);
        return true;
    };
    REQUIRE(eventually([&] { return read_set(*c1); }, {a.dir}));
    // The listener seals with the set's current key.
    REQUIRE(eventually([&] { return sealing_key(a.ward->port("s2s"), n1) == name_of(set->current); }, {a.dir}));

    // A set dated a day ahead (a clock that ran ahead, or one written to stop every rotation) is
    // replaced at once, not kept until its date.
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto future = cluster::rotate_ticket_keys(std::nullopt, "n9", now + 86'400);
    REQUIRE(future);
    auto sealed = seal.seal(*future);
    REQUIRE(sealed);
    REQUIRE(test::await_in(io, c1->put("/ward/c1/tickets", *sealed)));
    REQUIRE(eventually([&] { return read_set(*c1) && set->rotated_by == "n1" && set->rotated <= now + 60; }, {a.dir}));
    REQUIRE(eventually([&] { return sealing_key(a.ward->port("s2s"), n1) == name_of(set->current); }, {a.dir}));
    CHECK(name_of(set->current) != name_of(future->current));

    // Moved to another etcd, whose revisions count from 1 again (below what the node saw on the
    // first): the node makes and uses that etcd's set.
    for (int i = 0; i < 20; ++i) REQUIRE(test::await_in(io, c1->put("/other/filler", std::to_string(i))));
    auto text = a.config();
    const auto from = "127.0.0.1:" + std::to_string(etcd1.port());
    text.replace(text.find(from), from.size(), "127.0.0.1:" + std::to_string(etcd2.port()));
    test::write_text_file(a.dir / "ward.yaml", text);
    REQUIRE(a.ward->reload());
    REQUIRE(eventually([&] { return read_set(*c2); }, {a.dir}));
    REQUIRE(eventually([&] { return sealing_key(a.ward->port("s2s"), n1) == name_of(set->current); }, {a.dir}));
}

// (Read from the tickets of an s2s context, which verifies its peers: the wolfSSL flavour issues
// none there; handshake_test.cpp checks shared keys on a context that issues them.)
TEST_CASE("cluster: an old set written back brings no retired key back - a value that does not open is replaced only after two periods" *
          doctest::skip(!ward::tls::flavour::kResumesVerifiedPeers)) {
    test::TempDir dir("cluster-replay");
    test::TestPki pki(dir.path());
    const auto n1 = node_cert(pki, "n1");
    test::EtcdServer etcd(dir.path() / "etcd");
    test::TcpBackend backend(test::TcpBackend::Mode::echo);
    proxy::asio::io_context io;
    cluster::EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    cluster::EtcdClient client(io.get_executor(), o);
    const auto seal = seal_of("c1");
    const std::string key = "/ward/c1/tickets";
    const auto now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
    auto stored = [&]() -> std::optional<std::pair<std::string, std::int64_t>> {
        const auto r = test::await_in(io, client.range(key, false));
        REQUIRE(r);
        if (r->kvs.empty()) return std::nullopt;
        return std::pair{r->kvs[0].value, r->kvs[0].mod_revision};
    };

    // A value sealed with another secret is there first: the node does not replace it at once
    // (nodes with different secrets would replace each other's sets for ever), but after two
    // periods it does.
    auto other = cluster::TicketSeal::derive("another cluster secret, 32 bytes long", key);
    REQUIRE(other);
    auto foreign = cluster::rotate_ticket_keys(std::nullopt, "n9", now());
    REQUIRE(foreign);
    const auto foreign_value = other->seal(*foreign);
    REQUIRE(foreign_value);
    REQUIRE(test::await_in(io, client.put(key, *foreign_value)));
    const auto started = std::chrono::steady_clock::now();
    Node a(dir.path(), "n1", n1, backend, etcd.port(), "  ticket_rotation: 2s\n");
    REQUIRE(eventually([&] { return stored()->first != *foreign_value; }, {a.dir}, 20s));
    CHECK(std::chrono::steady_clock::now() - started >= 4s);
    REQUIRE(eventually([&] { return static_cast<bool>(seal.open(stored()->first)); }, {a.dir}));

    // An old set (two periods and more) written back: the node rotates to three fresh keys, and
    // seals with none of the old ones.
    auto old = seal.open(stored()->first);
    REQUIRE(old);
    const auto old_value = stored()->first;
    REQUIRE(eventually([&] { return now() - old->rotated >= 5; }, {a.dir}));
    REQUIRE(test::await_in(io, client.put(key, old_value)));
    std::optional<cluster::TicketKeySet> after;
    REQUIRE(eventually(
        [&] {
            auto s = stored();
            if (!s || s->first == old_value) return false;
            auto opened = seal.open(s->first);
            if (opened) after = std::move(*opened);
            return static_cast<bool>(opened);
        },
        {a.dir}));
    for (const auto* retired : {&old->previous, &old->current, &old->next}) {
        CHECK(after->previous != *retired);
        CHECK(after->current != *retired);
        CHECK(after->next != *retired);
    }
    REQUIRE(eventually([&] { return sealing_key(a.ward->port("s2s"), n1) == name_of(after->current); }, {a.dir}));
}
