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

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

awaitable<void> pause(asio::io_context& io, std::chrono::seconds d) {
    asio::steady_timer t(io);
    t.expires_after(d);
    co_await t.async_wait(use_tuple);
}

}  // namespace

void SharedTickets::start(std::shared_ptr<EtcdClient> client, std::string key, std::string node,
                          std::chrono::seconds rotation) {
    const auto epoch = ++epoch_;
    if (key != key_) {
        set_.reset();
        revision_ = 0;
    }
    key_ = std::move(key);
    node_ = std::move(node);
    rotation_ = rotation;
    asio::co_spawn(io_, run(epoch, std::move(client)), [](std::exception_ptr e) {
        if (e) proxy_log().error("cluster: the ticket key loop ended by an unexpected exception");
    });
}

void SharedTickets::stop() {
    ++epoch_;
    if (tls::ticket_keys_shared()) {
        tls::own_ticket_keys();
        proxy_log().info("cluster: session tickets sealed with this node's own keys");
    }
    set_.reset();
    revision_ = 0;
}

void SharedTickets::install(TicketKeySet set, std::int64_t revision) {
    const bool shared = tls::ticket_keys_shared();
    if (set_ && revision <= revision_ && shared) return;
    tls::share_ticket_keys(set.previous, set.current, set.next);
    if (!shared)
        proxy_log().info("cluster: session tickets sealed with the cluster's keys (rotated by '{}')", set.rotated_by);
    set_ = std::move(set);
    revision_ = revision;
}

void SharedTickets::seen(const std::string& value, std::int64_t revision) {
    auto set = decode_ticket_keys(value);
    if (!set) {
        proxy_log().warn("cluster: the ticket key set in etcd is unreadable ({}); it will be replaced", set.error());
        return;
    }
    install(std::move(*set), revision);
}

awaitable<void> SharedTickets::run(std::uint64_t epoch, std::shared_ptr<EtcdClient> client) {
    std::string last_failure;
    while (current(epoch)) {
        auto read_op = client->range(key_, false);
        auto read = co_await std::move(read_op);
        if (!current(epoch)) co_return;
        if (!read) {
            if (read.error() != last_failure)
                proxy_log().warn("cluster: reading the ticket keys: {}; the keys in force stay", read.error());
            last_failure = read.error();
            report_(read.error());
            // A set no node could rotate for two periods is not kept for ever: each node seals
            // with its own keys then (tickets resume on the node that issued them).
            if (set_ && tls::ticket_keys_shared() && unix_now() - set_->rotated >= 2 * rotation_.count()) {
                tls::own_ticket_keys();
                proxy_log().warn("cluster: etcd away for two ticket rotation periods: this node seals with its own keys "
                                 "until etcd answers");
            }
            co_await pause(io_, kRetry);
            continue;
        }
        report_({});
        last_failure.clear();
        std::optional<TicketKeySet> there;
        std::int64_t revision = 0;
        if (!read->kvs.empty()) {
            revision = read->kvs.front().mod_revision;
            auto set = decode_ticket_keys(read->kvs.front().value);
            if (set) there = std::move(*set);
            else proxy_log().warn("cluster: the ticket key set in etcd is unreadable ({}); replacing it", set.error());
        }
        const auto now = unix_now();
        if (!there || now - there->rotated >= rotation_.count()) {
            // Due (or none yet): every node that finds it so tries; the transaction lets one in.
            auto rotate_op = rotate_in_etcd(*client, key_, node_, now, revision, there);
            auto rotated = co_await std::move(rotate_op);
            if (!current(epoch)) co_return;
            if (!rotated) {
                proxy_log().warn("cluster: rotating the ticket keys: {}", rotated.error());
                report_(rotated.error());
                co_await pause(io_, kRetry);
                continue;
            }
            if (rotated->won) {
                ++won_;
                proxy_log().info("cluster: rotated the cluster's session ticket keys (revision {})", rotated->revision);
            }
            install(std::move(rotated->set), rotated->revision);
            continue;  // read again: the wait is counted from the set in force
        }
        const auto due = there->rotated + rotation_.count() - now;
        install(std::move(*there), revision);
        // The member's watch brings other nodes' rotations at once; this wakes to rotate when
        // due, and looks again at least every 30 s in case the watch is away.
        const std::chrono::seconds wait{std::clamp<std::int64_t>(due, 1, 30)};
        co_await pause(io_, wait);
    }
}

}  // namespace ward::cluster
