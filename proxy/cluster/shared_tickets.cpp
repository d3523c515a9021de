// SPDX-License-Identifier: Apache-2.0
// GCC 12 warns that Asio's coroutine frames are freed by a mismatched operator delete when a
// frame grows past a size it inlines differently; Asio pairs its own new and delete, and the
// warning is a GCC 12 false positive on coroutine frames (as in proxy/fronts/xmpp/outbound.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "proxy/cluster/shared_tickets.hpp"

#include <algorithm>
#include <ctime>

#include "proxy/engine/log.hpp"

namespace ward::cluster {

namespace asio = proxy::asio;
using proxy::proxy_log;
using proxy::use_tuple;

namespace {

constexpr std::chrono::seconds kRetry{1};
constexpr std::chrono::seconds kUnopened{10};  // how soon a set that did not open is read again

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

awaitable<void> SharedTickets::pause(std::chrono::seconds d) {
    asio::steady_timer timer(io_);
    timer.expires_after(d);
    waiting_ = &timer;
    co_await timer.async_wait(use_tuple);
    if (waiting_ == &timer) waiting_ = nullptr;
}

void SharedTickets::start(std::shared_ptr<EtcdClient> client, TicketSeal seal, std::string node,
                          std::chrono::seconds rotation) {
    const auto epoch = ++epoch_;
    wake();  // (a loop of the last epoch ends now)
    if (seal_ && seal_->path() != seal.path() && tls::ticket_keys_shared()) {
        // Another cluster or prefix: its keys are not this one's to keep.
        tls::own_ticket_keys(std::chrono::seconds(0));
        proxy_log().info("cluster: session tickets sealed with this node's own keys until {} is read", seal.path());
    }
    seal_ = std::move(seal);
    node_ = std::move(node);
    rotation_ = rotation;
    revision_ = 0;  // (another etcd, or one restored, counts revisions afresh)
    confirmed_ = std::chrono::steady_clock::now();
    asio::co_spawn(io_, run(epoch, std::move(client)), [](std::exception_ptr e) {
        if (e) proxy_log().error("cluster: the ticket key loop ended by an unexpected exception");
    });
}

void SharedTickets::stop() {
    ++epoch_;
    wake();
    if (tls::ticket_keys_shared()) {
        tls::own_ticket_keys(rotation_);
        proxy_log().info("cluster: session tickets sealed with this node's own keys");
    }
    seal_.reset();
    rotated_by_.clear();
    rotated_ = 0;
    revision_ = 0;
}

void SharedTickets::install(const TicketKeySet& set, std::int64_t revision) {
    const bool shared = tls::ticket_keys_shared();
    // (A watch that replays history brings older sets: never back to one of those.)
    if (revision < revision_ || (revision == revision_ && shared)) return;
    tls::share_ticket_keys(set.previous, set.current, set.next);
    if (!shared)
        proxy_log().info("cluster: session tickets sealed with the cluster's keys (rotated by '{}')", set.rotated_by);
    rotated_by_ = set.rotated_by;
    rotated_ = set.rotated;
    revision_ = revision;
}

void SharedTickets::give_up_if_stale() {
    if (!tls::ticket_keys_shared() || std::chrono::steady_clock::now() - confirmed_ < 2 * rotation_) return;
    tls::own_ticket_keys(rotation_);
    proxy_log().warn("cluster: no current ticket key set for two rotation periods (etcd away, or taking no rotation): "
                     "this node seals with its own keys until it reads one");
}

void SharedTickets::seen(const std::string& value, std::int64_t revision) {
    if (!seal_) return;
    auto set = seal_->open(value);
    if (!set) {
        wake();  // the loop reads it now, and says why it is not taken
        return;
    }
    const auto now = unix_now();
    if (set->rotated > now + rotation_.count()) {
        wake();  // the loop replaces it now
        return;
    }
    install(*set, revision);
    if (now - set->rotated < rotation_.count()) confirmed_ = std::chrono::steady_clock::now();
}

awaitable<void> SharedTickets::run(std::uint64_t epoch, std::shared_ptr<EtcdClient> client) {
    std::string last_failure;
    auto failed = [&](const std::string& why) {
        if (why != last_failure) proxy_log().warn("cluster: the ticket keys: {}; the keys in force stay", why);
        last_failure = why;
    };
    while (current(epoch)) {
        give_up_if_stale();
        auto read_op = client->range(seal_->path(), false);
        auto read = co_await std::move(read_op);
        if (!current(epoch)) co_return;
        if (!read) {
            failed(read.error());
            report_(read.error());
            co_await pause(kRetry);
            continue;
        }
        report_({});
        if (read->revision < revision_) revision_ = 0;  // etcd restored or replaced
        std::optional<TicketKeySet> there;
        std::int64_t revision = 0;
        const auto now = unix_now();
        if (!read->kvs.empty()) {
            revision = read->kvs.front().mod_revision;
            auto set = seal_->open(read->kvs.front().value);
            if (!set) {
                // Not replaced: two nodes with different secrets would replace each other's
                // sets for ever. This node keeps its own keys until the value opens (or goes).
                failed(set.error() + "; this node does not share tickets until it opens");
                co_await pause(kUnopened);
                continue;
            }
            if (set->rotated > now + rotation_.count()) {
                // From a clock a whole period ahead (or written to stop rotations): replaced.
                failed("the ticket key set was rotated in the future; replacing it");
            } else {
                there = std::move(*set);
            }
        }
        if (!there || now - there->rotated >= rotation_.count()) {
            // Due (or none yet): every node that finds it so tries; the transaction lets one in.
            auto rotate_op = rotate_in_etcd(*client, *seal_, node_, now, revision, there);
            auto rotated = co_await std::move(rotate_op);
            if (!current(epoch)) co_return;
            if (!rotated) {
                failed("rotating: " + rotated.error());
                co_await pause(kRetry);
                continue;
            }
            if (rotated->won) {
                ++won_;
                proxy_log().info("cluster: rotated the cluster's session ticket keys (revision {})", rotated->revision);
            }
            install(rotated->set, rotated->revision);
            if (unix_now() - rotated->set.rotated < rotation_.count()) confirmed_ = std::chrono::steady_clock::now();
            continue;  // read again: the wait is counted from the set in force
        }
        if (!last_failure.empty()) proxy_log().info("cluster: the ticket keys are current again");
        last_failure.clear();
        install(*there, revision);
        confirmed_ = std::chrono::steady_clock::now();
        // The member's watch brings other nodes' rotations at once; this wakes to rotate when
        // due, and looks again at least every 30 s in case the watch is away.
        const std::chrono::seconds wait{std::clamp<std::int64_t>(there->rotated + rotation_.count() - now, 1, 30)};
        co_await pause(wait);
    }
}

}  // namespace ward::cluster
