// SPDX-License-Identifier: Apache-2.0
// ward's etcd client against Debian's etcd 3.4 (its v3 JSON gateway): keys, leases, the
// compare-and-put that elects, watches and their end, failover between endpoints, mutual TLS
// through a ward TLS context, and what it says to something that is not etcd or never answers.
#include <doctest/doctest.h>

#include <optional>

#include "proxy/cluster/etcd_client.hpp"
#include "../support/await.hpp"
#include "../support/etcd_server.hpp"
#include "../support/net_test_support.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ward;
using namespace ward::cluster;
namespace asio = proxy::asio;
using test::await_in;
using test::spawn;

namespace {

config::EtcdEndpoint plain(std::uint16_t port) { return {false, "127.0.0.1", port}; }

EtcdOptions options_for(std::vector<config::EtcdEndpoint> endpoints, std::chrono::milliseconds timeout = 3s) {
    EtcdOptions o;
    o.endpoints = std::move(endpoints);
    o.timeout = timeout;
    o.watch_wait = timeout;
    return o;
}

}  // namespace

TEST_CASE("etcd client: keys - binary values - prefixes - revisions - deletion") {
    test::TempDir dir("etcd-kv");
    test::EtcdServer etcd(dir.path() / "etcd");
    asio::io_context io;
    EtcdClient client(io.get_executor(), options_for({plain(etcd.port())}));

    const std::string binary("a\0b\xff\n", 5);
    const auto r1 = await_in(io, client.put("/ward/c/nodes/n1", binary));
    REQUIRE_MESSAGE(r1, r1.error());
    const auto r2 = await_in(io, client.put("/ward/c/nodes/n2", "two"));
    REQUIRE(r2);
    CHECK(*r2 > *r1);
    REQUIRE(await_in(io, client.put("/ward/c/nodesX", "not under the prefix with its slash")));
    REQUIRE(await_in(io, client.put("/ward/d/other", "another cluster")));

    const auto range = await_in(io, client.range("/ward/c/nodes/", true));
    REQUIRE_MESSAGE(range, range.error());
    REQUIRE(range->kvs.size() == 2);
    CHECK(range->kvs[0].key == "/ward/c/nodes/n1");
    CHECK(range->kvs[0].value == binary);
    CHECK(range->kvs[0].mod_revision == *r1);
    CHECK(range->kvs[1].value == "two");
    CHECK(range->revision >= *r2);
    CHECK(client.endpoint() == etcd.url());

    const auto one = await_in(io, client.range("/ward/c/nodes/n2", false));
    REQUIRE(one);
    REQUIRE(one->kvs.size() == 1);
    const auto none = await_in(io, client.range("/ward/c/nodes/n3", false));
    REQUIRE(none);
    CHECK(none->kvs.empty());

    const auto removed = await_in(io, client.remove("/ward/c/nodes/n1"));
    REQUIRE(removed);
    CHECK(*removed == 1);
    const auto after = await_in(io, client.range("/ward/c/nodes/", true));
    REQUIRE(after);
    REQUIRE(after->kvs.size() == 1);
    CHECK(after->kvs[0].key == "/ward/c/nodes/n2");
}

TEST_CASE("etcd client: a lease keeps its keys while kept alive - revoked they are gone - a gone lease says 0") {
    test::TempDir dir("etcd-lease");
    test::EtcdServer etcd(dir.path() / "etcd");
    asio::io_context io;
    EtcdClient client(io.get_executor(), options_for({plain(etcd.port())}));

    const auto lease = await_in(io, client.grant_lease(5s));
    REQUIRE_MESSAGE(lease, lease.error());
    CHECK(*lease != 0);
    REQUIRE(await_in(io, client.put("/ward/c/nodes/n1", "cert", *lease)));
    const auto ttl = await_in(io, client.keep_alive(*lease));
    REQUIRE_MESSAGE(ttl, ttl.error());
    CHECK(*ttl > 0);
    CHECK(*ttl <= 5);
    const auto held = await_in(io, client.range("/ward/c/nodes/n1", false));
    REQUIRE(held);
    REQUIRE(held->kvs.size() == 1);
    CHECK(held->kvs[0].lease == *lease);

    REQUIRE(await_in(io, client.revoke_lease(*lease)));
    const auto gone = await_in(io, client.range("/ward/c/nodes/n1", false));
    REQUIRE(gone);
    CHECK(gone->kvs.empty());
    const auto dead = await_in(io, client.keep_alive(*lease));
    REQUIRE_MESSAGE(dead, dead.error());
    CHECK(*dead == 0);
    // A key cannot be put with a lease that is gone: etcd's reason comes back.
    const auto refused = await_in(io, client.put("/ward/c/nodes/n1", "cert", *lease));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("lease not found") != std::string::npos);
}

TEST_CASE("etcd client: compare-and-put - of two racers for an absent key exactly one wins") {
    test::TempDir dir("etcd-txn");
    test::EtcdServer etcd(dir.path() / "etcd");
    asio::io_context io;
    EtcdClient a(io.get_executor(), options_for({plain(etcd.port())}));
    EtcdClient b(io.get_executor(), options_for({plain(etcd.port())}));

    // Both start before either finishes.
    std::optional<Result<EtcdTxnResult>> ra, rb;
    int done = 0;
    spawn(io, a.put_if_revision("/ward/c/rotator", "node-a", 0, 0), ra, done);
    spawn(io, b.put_if_revision("/ward/c/rotator", "node-b", 0, 0), rb, done);
    REQUIRE(test::run_until(io, done, 2, 20s));
    REQUIRE_MESSAGE(*ra, ra->error());
    REQUIRE_MESSAGE(*rb, rb->error());
    CHECK((*ra)->succeeded != (*rb)->succeeded);
    const auto& loser = (*ra)->succeeded ? **rb : **ra;
    const std::string winner = (*ra)->succeeded ? "node-a" : "node-b";
    REQUIRE(loser.range.kvs.size() == 1);
    CHECK(loser.range.kvs[0].value == winner);

    // The holder moves on from the revision it saw; a stale revision loses.
    const auto seen = loser.range.kvs[0].mod_revision;
    const auto next = await_in(io, a.put_if_revision("/ward/c/rotator", "node-a2", 0, seen));
    REQUIRE(next);
    CHECK(next->succeeded);
    const auto stale = await_in(io, b.put_if_revision("/ward/c/rotator", "node-b2", 0, seen));
    REQUIRE(stale);
    CHECK_FALSE(stale->succeeded);
    REQUIRE(stale->range.kvs.size() == 1);
    CHECK(stale->range.kvs[0].value == "node-a2");
}

TEST_CASE("etcd client: a watch sees puts and deletions in order - resumes from a revision - ends when etcd stops") {
    test::TempDir dir("etcd-watch");
    test::EtcdServer etcd(dir.path() / "etcd");
    asio::io_context io;
    EtcdClient client(io.get_executor(), options_for({plain(etcd.port())}, 2s));

    const auto first = await_in(io, client.put("/ward/c/nodes/n1", "one"));
    REQUIRE(first);
    auto opened = await_in(io, client.watch("/ward/c/nodes/", *first + 1));
    REQUIRE_MESSAGE(opened, opened.error());
    auto watch = std::move(*opened);
    auto created = await_in(io, watch->next());
    REQUIRE_MESSAGE(created, created.error());
    CHECK(created->created);

    REQUIRE(await_in(io, client.put("/ward/c/nodes/n2", "two")));
    REQUIRE(await_in(io, client.put("/ward/c/other", "not watched")));
    REQUIRE(await_in(io, client.remove("/ward/c/nodes/n1")));
    std::vector<EtcdEvent> events;
    while (events.size() < 2) {
        auto m = await_in(io, watch->next());
        REQUIRE_MESSAGE(m, m.error());
        for (auto& e : m->events) events.push_back(std::move(e));
    }
    REQUIRE(events.size() == 2);
    CHECK_FALSE(events[0].deleted);
    CHECK(events[0].kv.key == "/ward/c/nodes/n2");
    CHECK(events[0].kv.value == "two");
    CHECK(events[1].deleted);
    CHECK(events[1].kv.key == "/ward/c/nodes/n1");
    const auto last = events[1].kv.mod_revision;

    // Nothing happens: the wait ends at the deadline, as an error, and the caller opens again.
    const auto started = std::chrono::steady_clock::now();
    auto quiet = await_in(io, watch->next());
    CHECK_FALSE(quiet);
    CHECK(std::chrono::steady_clock::now() - started < 5s);

    // A new watch from an old revision replays what happened since.
    auto again = await_in(io, client.watch("/ward/c/nodes/", *first + 1));
    REQUIRE(again);
    std::vector<EtcdEvent> replayed;
    while (replayed.size() < 2) {
        auto m = await_in(io, (*again)->next());
        REQUIRE_MESSAGE(m, m.error());
        for (auto& e : m->events) replayed.push_back(std::move(e));
    }
    CHECK(replayed[1].kv.mod_revision == last);

    // etcd stops under a watch: next() fails instead of waiting for ever.
    auto live = await_in(io, client.watch("/ward/c/nodes/", last + 1));
    REQUIRE(live);
    REQUIRE(await_in(io, (*live)->next()));  // created
    etcd.stop();
    auto ended = await_in(io, (*live)->next());
    REQUIRE_FALSE(ended);
    // Calls fail with the endpoint and the reason while it is away, and work once it is back.
    const auto away = await_in(io, client.range("/ward/c/nodes/", true));
    REQUIRE_FALSE(away);
    CHECK(away.error().find(etcd.url()) != std::string::npos);
    etcd.start();
    const auto back = await_in(io, client.range("/ward/c/nodes/", true));
    REQUIRE_MESSAGE(back, back.error());
    CHECK(back->kvs.size() == 1);
}

TEST_CASE("etcd client: an endpoint that is down is passed over - the one that answered is tried first") {
    test::TempDir dir("etcd-failover");
    test::EtcdServer etcd(dir.path() / "etcd");
    const auto nobody = test::reserve_port();
    asio::io_context io;
    EtcdClient client(io.get_executor(), options_for({plain(nobody), plain(etcd.port())}));
    const auto put = await_in(io, client.put("/k", "v"));
    REQUIRE_MESSAGE(put, put.error());
    CHECK(client.endpoint() == etcd.url());
    const auto got = await_in(io, client.range("/k", false));
    REQUIRE(got);
    CHECK(got->kvs.at(0).value == "v");

    EtcdClient lost(io.get_executor(), options_for({plain(nobody)}));
    const auto failed = await_in(io, lost.range("/k", false));
    REQUIRE_FALSE(failed);
    CHECK(failed.error().rfind("etcd did not answer: http://127.0.0.1:" + std::to_string(nobody) + ": ", 0) == 0);
}

TEST_CASE("etcd client: something that is not etcd - or never answers - is an error within the deadline") {
    asio::io_context io;
    {
        test::TcpBackend silent(test::TcpBackend::Mode::capture);
        EtcdClient client(io.get_executor(), options_for({plain(silent.port())}, 1s));
        const auto started = std::chrono::steady_clock::now();
        const auto r = await_in(io, client.range("/k", false));
        REQUIRE_FALSE(r);
        CHECK(r.error().find("no answer in time") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - started < 3s);
        CHECK(silent.received().rfind("POST /v3/kv/range HTTP/1.1\r\n", 0) == 0);
    }
    for (const std::string& answer : {std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"),
                                     std::string("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"kvs\":\"nope\"}"),
                                     std::string("HTTP/1.1 200 OK\r\nContent-Length: 63\r\n\r\n"
                                                 "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"!!!\",\"value\":\"eA==\"}]}"),
                                     std::string("SSH-2.0-OpenSSH\r\n"),
                                     // a revision no watch could start after
                                     std::string("HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n"
                                                 "{\"header\":{\"revision\":\"9223372036854775807\"}}"),
                                     // a header line that never ends: bounded, refused
                                     "HTTP/1.1 200 OK\r\nX: " + std::string(100 * 1024, 'x')}) {
        CAPTURE(answer);
        test::TcpBackend fake(test::TcpBackend::Mode::capture);
        EtcdClient client(io.get_executor(), options_for({plain(fake.port())}, 2s));
        std::optional<Result<EtcdRange>> r;
        int finished = 0;
        spawn(io, client.range("/k", false), r, finished);
        // Answer once the request is there, then close.
        const auto until = std::chrono::steady_clock::now() + 10s;
        bool answered = false;
        while (finished == 0 && std::chrono::steady_clock::now() < until) {
            io.run_one_for(20ms);
            if (!answered && fake.received().find("\r\n\r\n") != std::string::npos) {
                fake.send(answer);
                fake.close_last();
                answered = true;
            }
        }
        REQUIRE(finished == 1);
        REQUIRE_FALSE(*r);
        CHECK(!r->error().empty());
    }
}

TEST_CASE("etcd client: mutual TLS through a ward TLS context - a client etcd does not trust is refused") {
    test::TempDir dir("etcd-tls");
    test::TestPki pki(dir.path());
    auto server_spec = test::TestPki::client_spec("etcd.test");
    server_spec.dns_names = {"etcd.test"};
    server_spec.ip_addresses = {"127.0.0.1"};
    server_spec.server_auth = true;
    const auto server = pki.issue("etcd-server", server_spec);
    const auto node = pki.issue("node1", test::TestPki::client_spec("node1.test"));
    const auto stranger = pki.issue("stranger", test::TestPki::client_spec("stranger.test"), test::Signer::untrusted_ca);
    test::EtcdServer etcd(dir.path() / "etcd", test::EtcdTls{server.cert, server.key, pki.ca().cert, true});

    const auto yaml =
        "certificates:\n"
        "  node: { cert: node1.pem, key: node1.key }\n"
        "  stranger: { cert: stranger.pem, key: stranger.key }\n"
        "trust_stores: { etcd-ca: { dir: trust } }\n"
        "tls_contexts:\n"
        "  etcd-client: { certificate: node, trust_store: etcd-ca }\n"
        "  stranger-client: { certificate: stranger, trust_store: etcd-ca }\n";
    const auto loaded = test::load_config(dir.path(), yaml);
    asio::io_context io;
    auto context = [&](const std::string& name) {
        return std::shared_ptr<const tls::Context>(loaded.snapshot.contexts.at(name));
    };
    const config::EtcdEndpoint https{true, "127.0.0.1", etcd.port()};

    EtcdOptions good = options_for({https});
    good.tls = context("etcd-client");
    EtcdClient client(io.get_executor(), good);
    const auto put = await_in(io, client.put("/secure", "yes"));
    REQUIRE_MESSAGE(put, put.error());
    const auto read = await_in(io, client.range("/secure", false));
    REQUIRE(read);
    CHECK(read->kvs.at(0).value == "yes");

    EtcdOptions bad = options_for({https});
    bad.tls = context("stranger-client");
    EtcdClient refused(io.get_executor(), bad);
    const auto r = await_in(io, refused.range("/secure", false));
    REQUIRE_FALSE(r);
    CHECK(r.error().find("https://127.0.0.1:" + std::to_string(etcd.port())) != std::string::npos);

    // etcd's certificate must name the endpoint: the same etcd as "localhost" (a name its
    // certificate does not hold) is refused, chain or not (attacker review: any holder of a
    // certificate from etcd's CA could otherwise pose as etcd).
    EtcdOptions by_name = options_for({config::EtcdEndpoint{true, "localhost", etcd.port()}});
    by_name.tls = context("etcd-client");
    EtcdClient misnamed(io.get_executor(), by_name);
    const auto mn = await_in(io, misnamed.range("/secure", false));
    REQUIRE_FALSE(mn);
    CHECK(mn.error().find("https://localhost:") != std::string::npos);

    // Plaintext to a TLS etcd, and TLS without a context: errors, not hangs.
    EtcdClient clear(io.get_executor(), options_for({plain(etcd.port())}, 2s));
    CHECK_FALSE(await_in(io, clear.range("/secure", false)));
    EtcdClient no_context(io.get_executor(), options_for({https}));
    const auto nc = await_in(io, no_context.range("/secure", false));
    REQUIRE_FALSE(nc);
    CHECK(nc.error().find("https needs a TLS context") != std::string::npos);
}

TEST_CASE("etcd client: a watch answer that is not a stream - or too large an error - is refused") {
    asio::io_context io;
    for (const std::string& answer :
         {std::string("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{"),
          std::string("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000000000000\r\n\r\n{"),
          std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + std::string(100 * 1024, '1')}) {
        CAPTURE(answer.substr(0, 60));
        test::TcpBackend fake(test::TcpBackend::Mode::capture);
        EtcdClient client(io.get_executor(), options_for({plain(fake.port())}, 2s));
        std::optional<Result<std::unique_ptr<EtcdWatch>>> w;
        int finished = 0;
        spawn(io, client.watch("/ward/", 1), w, finished);
        const auto until = std::chrono::steady_clock::now() + 10s;
        bool answered = false;
        while (finished == 0 && std::chrono::steady_clock::now() < until) {
            io.run_one_for(20ms);
            if (!answered && fake.received().find("\r\n\r\n") != std::string::npos) {
                fake.send(answer);
                answered = true;
            }
        }
        REQUIRE(finished == 1);
        if (*w) {
            // Opened (the chunked one): its first message never ends and is refused, bounded.
            std::optional<Result<EtcdWatchMessage>> m;
            int got = 0;
            spawn(io, (**w)->next(), m, got);
            const auto until2 = std::chrono::steady_clock::now() + 10s;
            while (got == 0 && std::chrono::steady_clock::now() < until2) io.run_one_for(20ms);
            REQUIRE(got == 1);
            CHECK_FALSE(*m);
        } else {
            CHECK(!w->error().empty());
        }
    }
}
