// SPDX-License-Identifier: Apache-2.0
// The cluster's ticket key set: its stored form and what ward refuses to take from etcd, and the
// rotation's election against Debian's etcd (racers for one rotation: exactly one wins, and the
// others take what won).
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "proxy/cluster/tickets.hpp"
#include "../support/await.hpp"
#include "../support/etcd_server.hpp"
#include "../support/tls_test_support.hpp"

using namespace std::chrono_literals;
using namespace ward;
using namespace ward::cluster;
namespace json = boost::json;

namespace {

TicketKeySet fresh_set(const std::string& node) {
    auto set = rotate_ticket_keys(std::nullopt, node, 1'700'000'000);
    REQUIRE_MESSAGE(set, set.error());
    return *set;
}

std::string encode(const TicketKeySet& s) { return encode_ticket_keys(s); }

// The stored set with one field changed by `edit`.
std::string edited(const TicketKeySet& s, const std::function<void(json::object&)>& edit) {
    auto v = json::parse(encode(s));
    edit(v.as_object());
    return json::serialize(v);
}

}  // namespace

TEST_CASE("cluster tickets: a set reads back as written - a rotation shifts it by one") {
    const auto s = fresh_set("n1");
    auto back = decode_ticket_keys(encode(s));
    REQUIRE_MESSAGE(back, back.error());
    CHECK(back->rotated_by == "n1");
    CHECK(back->rotated == 1'700'000'000);
    CHECK(back->previous == s.previous);
    CHECK(back->current == s.current);
    CHECK(back->next == s.next);
    CHECK(s.previous != s.current);
    const auto r = rotate_ticket_keys(s, "n2", 1'700'000'100);
    REQUIRE(r);
    CHECK(r->previous == s.current);
    CHECK(r->current == s.next);
    CHECK(r->next != s.next);
    CHECK(r->next != s.current);
    CHECK(r->rotated_by == "n2");
}

TEST_CASE("cluster tickets: what is not a whole set is refused") {
    const auto s = fresh_set("n1");
    auto refused = [](const std::string& value) {
        auto r = decode_ticket_keys(value);
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
    const std::string whole = "the ticket key set does not hold three whole keys";
    CHECK(refused(edited(s, [](json::object& o) { o.erase("next"); })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["extra"] = 1; })) == whole);
    // A key one byte short, one byte long, or not base64.
    CHECK(refused(edited(s, [](json::object& o) { o["current"].as_object()["aes"] = base64(std::string(31, 'k')); })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["current"].as_object()["hmac"] = base64(std::string(33, 'k')); })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["current"].as_object()["name"] = "not base64!"; })) == whole);
    CHECK(refused(edited(s, [](json::object& o) { o["previous"].as_object()["other"] = "x"; })) == whole);
    // Two keys under one name: a ticket would open with the wrong one.
    CHECK(refused(edited(s, [&](json::object& o) { o["next"] = o["current"]; })) ==
          "the ticket key set names two keys alike");
    CHECK(refused(encode(s)) == "taken");
}

TEST_CASE("cluster tickets: of nodes racing to rotate exactly one wins - the others take its set - a stale revision loses") {
    test::TempDir dir("cluster-tickets");
    test::EtcdServer etcd(dir.path() / "etcd");
    proxy::asio::io_context io;
    EtcdOptions o;
    o.endpoints = {{false, "127.0.0.1", etcd.port()}};
    EtcdClient c1(io.get_executor(), o), c2(io.get_executor(), o), c3(io.get_executor(), o);
    const std::string key = "/ward/c1/tickets";

    // The first set: all three start before any finishes.
    auto race = [&](std::int64_t expected, const std::optional<TicketKeySet>& was, std::int64_t now) {
        std::optional<Result<Rotation>> r1, r2, r3;
        int done = 0;
        test::spawn(io, rotate_in_etcd(c1, key, "n1", now, expected, was), r1, done);
        test::spawn(io, rotate_in_etcd(c2, key, "n2", now, expected, was), r2, done);
        test::spawn(io, rotate_in_etcd(c3, key, "n3", now, expected, was), r3, done);
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
        CHECK(encode(r.set) == encode(first[0].set));
        CHECK(r.revision == first[0].revision);
    }
    // The next rotation, from the revision all three saw.
    auto second = race(first[0].revision, first[0].set, 1'700'000'100);
    winners = 0;
    for (const auto& r : second) winners += r.won ? 1 : 0;
    CHECK(winners == 1);
    CHECK(second[0].set.previous == first[0].set.current);
    CHECK(second[0].set.current == first[0].set.next);
    for (const auto& r : second) CHECK(encode(r.set) == encode(second[0].set));
    // A node that read the first set and wakes late does not rotate over the second.
    const auto late = test::await_in(io, rotate_in_etcd(c1, key, "n1", 1'700'000'200, first[0].revision, first[0].set));
    REQUIRE_MESSAGE(late, late.error());
    CHECK_FALSE(late->won);
    CHECK(encode(late->set) == encode(second[0].set));
    // What is in etcd reads as a set.
    const auto stored = test::await_in(io, c2.range(key, false));
    REQUIRE(stored);
    REQUIRE(stored->kvs.size() == 1);
    auto decoded = decode_ticket_keys(stored->kvs[0].value);
    REQUIRE(decoded);
    CHECK(encode(*decoded) == encode(second[0].set));
}
