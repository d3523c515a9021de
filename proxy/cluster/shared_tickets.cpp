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
    // Cleared however the wait ends (the frame may be destroyed instead of resumed).
    struct Clear {
        asio::steady_timer*& waiting;
        asio::steady_timer* mine;
        ~Clear() {
            if (waiting == mine) waiting = nullptr;
        }
    } clear{waiting_, &timer};
    waiting_ = &timer;
    co_await timer.async_wait(use_tuple);
}

void SharedTickets::start(std::shared_ptr<EtcdClient> client, TicketSeal seal, std::string node,
                          std::chrono::seconds rotation) {
    const auto epoch = ++epoch_;
    wake();  // (a loop of the last epoch ends now)
    if (last_path_ != seal.path()) {
        // Another cluster or prefix (or none before): keys of another are not this one's to keep,
        // not even for a grace period.
        if (!last_path_.empty()) {
            tls::own_ticket_keys(std::chrono::seconds(0));  // (also after a stop: its grace ends)
            proxy_log().info("cluster: session tickets sealed with this node's own keys until {} is read", seal.path());
        }
        last_path_ = seal.path();
        confirmed_ = std::chrono::steady_clock::now();
    }
    seal_ = std::move(seal);
    node_ = std::move(node);
    rotation_ = rotation;
    revision_ = 0;  // (another etcd, or one restored, counts revisions afresh)
    unopened_revision_ = 0;
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

void SharedTickets::install(const TicketKeySet& set, std::int64_t revision, bool read) {
    const bool shared = tls::ticket_keys_shared();
    if (revision == revision_ && shared) return;
    // (A watch that replays history brings older sets: never back to one of those.)
    if (!read && revision < revision_) return;
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
    // Only a current set is taken from the watch: a due one may be an old value written back
    // (its keys retired), and one that does not open is the loop's to judge when it next reads.
    auto set = seal_->open(value);
    if (!set) return;
    const auto now = unix_now();
    if (set->rotated > now + rotation_.count()) {
        wake();  // the loop rotates from it now
        return;
    }
    if (now - set->rotated >= rotation_.count()) return;
    install(*set, revision, false);
    confirmed_ = std::chrono::steady_clock::now();
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
        std::optional<TicketKeySet> there;
        std::int64_t revision = 0;
        const auto now = unix_now();
        bool fresh = false;  // rotate to three fresh keys rather than from what is there
        bool ahead = false;  // a set from the future: rotated from at once
        if (!read->kvs.empty()) {
            revision = read->kvs.front().mod_revision;
            auto set = seal_->open(read->kvs.front().value);
            if (!set) {
                // Not replaced at once: two nodes with different secrets would replace each
                // other's sets for ever. After two periods it is (a secret changed everywhere, or
                // a value someone wrote there): the keys in force meanwhile are the last taken.
                if (unopened_revision_ != revision) {
                    unopened_revision_ = revision;
                    unopened_since_ = std::chrono::steady_clock::now();
                }
                if (std::chrono::steady_clock::now() - unopened_since_ < 2 * rotation_) {
                    failed(set.error() + "; not taken (replaced if it stays so for two periods)");
                    co_await pause(kUnopened);
                    continue;
                }
                failed(set.error() + "; replacing it");
                fresh = true;
            } else if (set->rotated > now + rotation_.count()) {
                // From a clock a whole period ahead: rotated from (its keys kept in order).
                failed("the ticket key set was rotated " + std::to_string(set->rotated - now) +
                       " s ahead of this node's clock; check the nodes' clocks");
                there = std::move(*set);
                ahead = true;
            } else {
                there = std::move(*set);
                // A set two periods old (etcd away, or an old value written back) holds retired
                // keys: three fresh ones replace it.
                fresh = now - there->rotated >= 2 * rotation_.count();
            }
        }
        if (!there || fresh || ahead || now - there->rotated >= rotation_.count()) {
            // Due (or none yet): every node that finds it so tries; the transaction lets one in.
            std::optional<TicketKeySet> from;
            if (!fresh) from = there;
            auto rotate_op = rotate_in_etcd(*client, *seal_, node_, now, revision, std::move(from));
            auto rotated = co_await std::move(rotate_op);
            if (!current(epoch)) co_return;
            if (!rotated) {
                failed("rotating: " + rotated.error());
                co_await pause(kRetry);
                continue;
            }
            const auto current_now = unix_now();
            const bool current_set = current_now - rotated->set.rotated < rotation_.count() &&
                                     rotated->set.rotated <= current_now + rotation_.count();
            if (rotated->won) {
                ++won_;
                proxy_log().info("cluster: rotated the cluster's session ticket keys (revision {})", rotated->revision);
            }
            if (current_set) {
                install(rotated->set, rotated->revision, true);
                confirmed_ = std::chrono::steady_clock::now();
            } else {
                // Lost to a value that is not current either (written back over and over?): not
                // taken, and not raced again at once.
                co_await pause(kRetry);
            }
            continue;  // read again: the wait is counted from the set in force
        }
        if (!last_failure.empty()) proxy_log().info("cluster: the ticket keys are current again");
        last_failure.clear();
        install(*there, revision, true);
        confirmed_ = std::chrono::steady_clock::now();
        // The member's watch brings other nodes' rotations at once; this wakes to rotate when
        // due, and looks again at least every 30 s in case the watch is away.
        const std::chrono::seconds wait{std::clamp<std::int64_t>(there->rotated + rotation_.count() - now, 1, 30)};
        co_await pause(wait);
    }
}

}  // namespace ward::cluster
