// SPDX-License-Identifier: Apache-2.0
// The cluster's ticket key set: its sealed stored form and what ward refuses to take from etcd, and the
// rotation's election against Debian's etcd (racers for one rotation: exactly one wins, and the
// others take what won).
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "proxy/cluster/tickets.hpp"
#include "../support/await.hpp"
#include "../support/etcd_server.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ward;
using namespace ward::cluster;
namespace json = boost::json;

namespace {

const std::string kSecret(32, 's');
const std::string kPath = "/ward/c1/tickets";

TicketSeal seal_for(const std::string& secret = kSecret, const std::string& path = kPath) {
    auto s = TicketSeal::derive(secret, path);
    REQUIRE_MESSAGE(s, s.error());
    return *s;
}

TicketKeySet fresh_set(const std::string& node) {
    auto set = rotate_ticket_keys(std::nullopt, node, 1'700'000'000);
    REQUIRE_MESSAGE(set, set.error());
    return *set;
}

std::string encode(const TicketKeySet& s, const TicketSeal& seal = seal_for()) {
    auto v = seal.seal(s);
    REQUIRE_MESSAGE(v, v.error());
    return *v;
}

// The stored set with one field changed by `edit`.
std::string edited(const TicketKeySet& s, const std::function<void(json::object&)>& edit) {
    auto v = json::parse(encode(s));
    edit(v.as_object());
    return json::serialize(v);
}

// The three keys as bytes, to compare sets.
std::string keys_of(const TicketKeySet& s) {
    std::string out;
    for (const auto* k : {&s.previous, &s.current, &s.next}) {
        out.append(reinterpret_cast<const char*>(k->name.data()), k->name.size());
        out.append(reinterpret_cast<const char*>(k->aes.data()), k->aes.size());
        out.append(reinterpret_cast<const char*>(k->hmac.data()), k->hmac.size());
    }
    return out;
}

}  // namespace

TEST_CASE("cluster tickets: a set opens as sealed - no key is in the clear - a rotation shifts it by one") {
    const auto s = fresh_set("n1");
    const auto value = encode(s);
    auto back = seal_for().open(value);
    REQUIRE_MESSAGE(back, back.error());
    CHECK(back->rotated_by == "n1");
    CHECK(back->rotated == 1'700'000'000);
    CHECK(keys_of(*back) == keys_of(s));
    CHECK(s.previous != s.current);
    // Neither the keys nor their base64 are in the stored value.
    for (const auto* k : {&s.previous, &s.current, &s.next}) {
        const std::string aes(reinterpret_cast<const char*>(k->aes.data()), k->aes.size());
        CHECK(value.find(aes) == std::string::npos);
        CHECK(value.find(base64(aes).substr(0, 20)) == std::string::npos);
    }
    // Sealed twice, two different values (a fresh nonce each time).
    CHECK(encode(s) != value);
    const auto r = rotate_ticket_keys(s, "n2", 1'700'000'100);
    REQUIRE(r);
    CHECK(r->previous == s.current);
    CHECK(r->current == s.next);
    CHECK(r->next != s.next);
    CHECK(r->next != s.current);
    CHECK(r->rotated_by == "n2");
    CHECK_FALSE(TicketSeal::derive(std::string(31, 's'), kPath));
}

TEST_CASE("cluster tickets: what does not open under this cluster's seal is refused") {
    const auto s = fresh_set("n1");
    auto refused = [](const std::string& value, const TicketSeal& seal = seal_for()) {
        auto r = seal.open(value);
        return r ? std::string("taken") : r.error();
    };
    CHECK(refused("") == "the ticket key set is not a JSON object");
    CHECK(refused("[1,2]") == "the ticket key set is not a JSON object");
    CHECK(refused(std::string(5000, ' ')) == "the ticket key set is too large");
    CHECK(refused(edited(s, [](json::object& o) { o["version"] = 2; })) == "the ticket key set is not of version 1");
    CHECK(refused(edited(s, [](json::object& o) { o["version"] = "1"; })) == "the ticket key set is not of version 1");
    CHECK(refused(edited(s, [](json::object& o) { o["rotated_by"] = "a node/../x"; })) ==
          "the ticket key set does not name the node that made it");
    CHECK(refused(edited(s, [](json::object& o) { o.erase("rotated_by"); })) ==
          "the ticket key set does not name the node that made it");
    CHECK(refused(edited(s, [](json::object& o) { o["rotated"] = 0; })) == "the ticket key set has no rotation time");
    const std::string whole = "the ticket key set does not hold three sealed keys";
    CHECK(refused(edited(s, [](json::object& o) { o.erase("sealed"); })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["extra"] = 1; })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["sealed"] = "not base64!"; })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["sealed"] = base64(std::string(200, 'k')); })) == whole);
    const std::string sealed_off = "the ticket key set does not open with this node's cluster.ticket_secret_file "
                                   "(another secret, another cluster's value, or altered)";
    // The metadata is authenticated: another node or time does not open.
    CHECK(refused(edited(s, [](json::object& o) { o["rotated_by"] = "n2"; })) == sealed_off);
    CHECK(refused(edited(s, [](json::object& o) { o["rotated"] = 1'700'000'001; })) == sealed_off);
    // One bit of the sealed keys changed.
    CHECK(refused(edited(s, [](json::object& o) {
              auto bytes = *unbase64(std::string(o["sealed"].as_string()));
              bytes[40] = static_cast<char>(bytes[40] ^ 1);
              o["sealed"] = base64(bytes);
          })) == sealed_off);
    // Another secret, or the value of another cluster (or prefix) copied here.
    CHECK(refused(encode(s), seal_for(std::string(32, 't'))) == sealed_off);
    CHECK(refused(encode(s, seal_for(kSecret, "/ward/c2/tickets"))) == sealed_off);
    CHECK(refused(encode(s)) == "taken");
    // Two keys under one name: a ticket would open with the wrong one.
    auto twins = s;
    twins.next = twins.current;
    CHECK(refused(encode(twins)) == "the ticket key set names two keys alike");
}

TEST_CASE("cluster tickets: of nodes racing to rotate exactly one wins - the others take its set - a stale revision loses") {
    test::TempDir dir("cluster-tickets");
    test::EtcdServer etcd(dir.path() / "etcd");
    proxy::asio::io_context io;
    EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    EtcdClient c1(io.get_executor(), o), c2(io.get_executor(), o), c3(io.get_executor(), o);
    const std::string key = kPath;

    // The first set: all three start before any finishes.
    auto race = [&](std::int64_t expected, const std::optional<TicketKeySet>& was, std::int64_t now) {
        std::optional<Result<Rotation>> r1, r2, r3;
        int done = 0;
        test::spawn(io, rotate_in_etcd(c1, seal_for(), "n1", now, expected, was), r1, done);
        test::spawn(io, rotate_in_etcd(c2, seal_for(), "n2", now, expected, was), r2, done);
        test::spawn(io, rotate_in_etcd(c3, seal_for(), "n3", now, expected, was), r3, done);
        REQUIRE(test::run_until(io, done, 3, 20s));
        std::vector<Rotation> out;
        for (auto* r : {&r1, &r2, &r3}) {
            REQUIRE_MESSAGE(**r, (*r)->error());
            out.push_back(***r);
        }
        return out;
    };
    auto first = race(0, std::nullopt, 1'700'000'000);
    int winners = 0;
    for (const auto& r : first) winners += r.won ? 1 : 0;
    CHECK(winners == 1);
    // Every racer ends with the set in etcd, at its revision.
    for (const auto& r : first) {
        CHECK(keys_of(r.set) == keys_of(first[0].set));
        CHECK(r.revision == first[0].revision);
    }
    // The next rotation, from the revision all three saw.
    auto second = race(first[0].revision, first[0].set, 1'700'000'100);
    winners = 0;
    for (const auto& r : second) winners += r.won ? 1 : 0;
    CHECK(winners == 1);
    CHECK(second[0].set.previous == first[0].set.current);
    CHECK(second[0].set.current == first[0].set.next);
    for (const auto& r : second) CHECK(keys_of(r.set) == keys_of(second[0].set));
    // A node that read the first set and wakes late does not rotate over the second.
    const auto late = test::await_in(io, rotate_in_etcd(c1, seal_for(), "n1", 1'700'000'200, first[0].revision, first[0].set));
    REQUIRE_MESSAGE(late, late.error());
    CHECK_FALSE(late->won);
    CHECK(keys_of(late->set) == keys_of(second[0].set));
    // What is in etcd reads as a set.
    const auto stored = test::await_in(io, c2.range(key, false));
    REQUIRE(stored);
    REQUIRE(stored->kvs.size() == 1);
    auto decoded = seal_for().open(stored->kvs[0].value);
    REQUIRE(decoded);
    CHECK(keys_of(*decoded) == keys_of(second[0].set));
}

TEST_CASE("cluster tickets: the secret is read only from a regular file of this user that no one else can read") {
    test::TempDir dir("cluster-secret");
    const auto file = dir.path() / "ticket.secret";
    const auto owner = fs::perms::owner_read | fs::perms::owner_write;
    auto read = [&](const fs::path& p) {
        auto r = read_ticket_secret(p.string());
        return r ? std::string("read ") + std::to_string(r->size()) : r.error();
    };
    test::write_text_file(file, std::string(40, 's'));
    fs::permissions(file, owner);
    CHECK(read(file) == "read 40");
    fs::permissions(file, owner | fs::perms::others_read);
    CHECK(read(file) == "the ticket secret " + file.string() + ": readable by others than its owner (chmod 600)");
    fs::permissions(file, owner);
    // Swapped for a symlink after `ward check` looked: not followed.
    const auto link = dir.path() / "link.secret";
    fs::create_symlink(file, link);
    CHECK(read(link).rfind("the ticket secret " + link.string() + ": ", 0) == 0);
    CHECK(read(link) != "read 40");
    // Too short, too long, a folder, missing.
    test::write_text_file(file, std::string(31, 's'));
    CHECK(read(file) == "the ticket secret " + file.string() + ": not 32 to 4096 bytes");
    test::write_text_file(file, std::string(4097, 's'));
    CHECK(read(file) == "the ticket secret " + file.string() + ": not 32 to 4096 bytes");
    CHECK(read(dir.path()) == "the ticket secret " + dir.path().string() + ": not a regular file");
    CHECK(read(dir.path() / "none").rfind("the ticket secret " + (dir.path() / "none").string() + ": ", 0) == 0);
}
