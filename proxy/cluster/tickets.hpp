// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cluster's session ticket keys, shared through etcd so that a client resumes on any node
// (tls/ticket_keys.hpp seals and opens with them). One value, <prefix>/<cluster>/tickets, holds
// three keys: previous, current and next. Every node seals with `current` and opens tickets of
// all three. A rotation shifts them (previous <- current <- next <- fresh), so a key seals only
// after every node has held it for a whole period as `next`: no node ever meets a ticket sealed
// with a key it has not read yet. Whoever finds the set due rotates it with a compare-and-put on
// the value's revision: when several nodes race, exactly one put succeeds (the etcd
// transaction is the election), and the others take what won.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"
#include "proxy/cluster/etcd_client.hpp"
#include "tls/ticket_keys.hpp"

namespace ward::cluster {

struct TicketKeySet {
    std::string rotated_by;    // the node that made this set
    std::int64_t rotated = 0;  // when (Unix seconds, that node's clock)
    tls::TicketKey previous;
    tls::TicketKey current;
    tls::TicketKey next;
};

// The value as stored: JSON, the keys in base64.
std::string encode_ticket_keys(const TicketKeySet& set);
// Refuses anything but a well-formed set (every field, exact key sizes, a node name ward takes).
Result<TicketKeySet> decode_ticket_keys(std::string_view value);
// The set after `was` (or a fresh one when there is none): the keys shifted, a fresh `next`.
Result<TicketKeySet> rotate_ticket_keys(const std::optional<TicketKeySet>& was, const std::string& node,
                                        std::int64_t now);

struct Rotation {
    bool won = false;            // this node's put went in
    TicketKeySet set;            // the set in etcd now (this node's, or the one that won)
    std::int64_t revision = 0;   // its mod_revision
};

// Rotates the set at `key` if its revision is still `expected` (0: there is none yet); `was`
// is what was read at that revision.
awaitable<Result<Rotation>> rotate_in_etcd(EtcdClient& client, std::string key, std::string node, std::int64_t now,
                                           std::int64_t expected, std::optional<TicketKeySet> was);

}  // namespace ward::cluster
