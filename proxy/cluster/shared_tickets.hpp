// SPDX-License-Identifier: Apache-2.0
#pragma once
// A member's side of the cluster's session ticket keys (tickets.hpp): reads the set, puts it in
// force (tls::share_ticket_keys), rotates it when due with the compare-and-put that lets one node
// win, takes other nodes' rotations from the member's watch, and goes back to this node's own
// keys when for two rotation periods it could not confirm a set that is not due (etcd away, or
// etcd that answers but takes no rotation). On the control thread. Only the set's metadata is
// kept here; the keys live in tls/ticket_keys.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/cluster/etcd_client.hpp"
#include "proxy/cluster/tickets.hpp"

namespace ward::cluster {

class SharedTickets {
public:
    // Told after every call to etcd: "" when it answered, else why not.
    using Reporter = std::function<void(const std::string& failure)>;

    SharedTickets(proxy::asio::io_context& io, Reporter report) : io_(io), report_(std::move(report)) {}

    // Follows the set at seal.path() with `client` (ending any loop before; another path than
    // before drops the keys of the old one at once).
    void start(std::shared_ptr<EtcdClient> client, TicketSeal seal, std::string node, std::chrono::seconds rotation);
    // Ends the loop and seals with this node's own keys again.
    void stop();
    // A value of the set's key the member's watch saw.
    void seen(const std::string& value, std::int64_t revision);

    // The set's key ("" when not sharing).
    std::string key() const { return seal_ ? seal_->path() : std::string(); }
    // The set in force: who rotated it and when (no keys).
    const std::string& rotated_by() const { return rotated_by_; }
    std::int64_t rotated() const { return rotated_; }
    std::uint64_t rotations_won() const { return won_; }

private:
    awaitable<void> run(std::uint64_t epoch, std::shared_ptr<EtcdClient> client);
    // `read`: the loop's own read of etcd, which is the truth (a restored etcd may hold a set at
    // a lower revision); otherwise (the watch) never back to an older revision.
    void install(const TicketKeySet& set, std::int64_t revision, bool read);
    // Back to this node's own keys when no set that is not due was confirmed for two periods.
    void give_up_if_stale();
    bool current(std::uint64_t epoch) const { return epoch == epoch_; }
    // The loop's wait; seen() and start() end it early.
    awaitable<void> pause(std::chrono::seconds d);

    proxy::asio::io_context& io_;
    Reporter report_;
    // The timer the loop waits on now (it lives in the loop's frame, which goes with the
    // io_context; this only points at it while the loop waits).
    proxy::asio::steady_timer* waiting_ = nullptr;
    void wake() {
        if (waiting_) waiting_->cancel();
    }
    std::uint64_t epoch_ = 0;
    std::optional<TicketSeal> seal_;
    std::string last_path_;  // the set this node shared last (kept across stop())
    std::string node_;
    std::chrono::seconds rotation_{0};
    std::string rotated_by_;
    std::int64_t rotated_ = 0;
    std::int64_t revision_ = 0;
    std::chrono::steady_clock::time_point confirmed_{};  // a set not due was last read (or won)
    std::int64_t unopened_revision_ = 0;                 // a value that does not open, at that revision,
    std::chrono::steady_clock::time_point unopened_since_{};  // since then
    std::uint64_t won_ = 0;
};

}  // namespace ward::cluster
