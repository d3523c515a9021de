// SPDX-License-Identifier: Apache-2.0
#pragma once
// A member's side of the cluster's session ticket keys (tickets.hpp): reads the set, puts it in
// force (tls::share_ticket_keys), rotates it when due with the compare-and-put that lets one node
// win, takes other nodes' rotations from the member's watch, and when etcd stays away for two
// rotation periods goes back to this node's own keys. On the control thread.
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

    // Follows the set at `key` with `client` (ending any loop before).
    void start(std::shared_ptr<EtcdClient> client, std::string key, std::string node, std::chrono::seconds rotation);
    // Ends the loop and seals with this node's own keys again.
    void stop();
    // A value of the set's key the member's watch saw.
    void seen(const std::string& value, std::int64_t revision);

    const std::string& key() const { return key_; }
    const std::optional<TicketKeySet>& in_force() const { return set_; }
    std::uint64_t rotations_won() const { return won_; }

private:
    awaitable<void> run(std::uint64_t epoch, std::shared_ptr<EtcdClient> client);
    void install(TicketKeySet set, std::int64_t revision);
    bool current(std::uint64_t epoch) const { return epoch == epoch_; }

    proxy::asio::io_context& io_;
    Reporter report_;
    std::uint64_t epoch_ = 0;
    std::string key_;
    std::string node_;
    std::chrono::seconds rotation_{0};
    std::optional<TicketKeySet> set_;
    std::int64_t revision_ = 0;
    std::uint64_t won_ = 0;
};

}  // namespace ward::cluster
