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
//
// The keys never reach etcd in the clear: whoever holds them can forge a ticket for any session
// (a peer's certificate is public; the ticket is its only proof of the private key). They are
// sealed with AES-256-GCM under a key derived from the operator's secret
// (cluster.ticket_secret_file, the same on every node) and the value's etcd key; the node that
// rotated and when are authenticated with them. Someone who can read etcd but lacks the secret
// learns nothing; a value copied from another cluster or prefix, or altered, does not open.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"
#include "proxy/cluster/etcd_client.hpp"
#include "tls/crypto.hpp"
#include "tls/ticket_keys.hpp"

namespace ward::cluster {

struct TicketKeySet {
    std::string rotated_by;    // the node that made this set
    std::int64_t rotated = 0;  // when (Unix seconds, that node's clock)
    tls::TicketKey previous;
    tls::TicketKey current;
    tls::TicketKey next;
};

// What seals the set: a key derived from the operator's secret and the set's etcd key.
class TicketSeal {
public:
    // `secret`: the file's bytes (32 or more); `path`: <prefix>/<cluster>/tickets.
    static Result<TicketSeal> derive(std::string_view secret, std::string path);
    TicketSeal(const TicketSeal&) = default;
    TicketSeal& operator=(const TicketSeal&) = default;
    ~TicketSeal() { crypto::cleanse(key_.data(), key_.size()); }
    const std::string& path() const { return path_; }

    // The value as stored: JSON with the metadata and the sealed keys in base64.
    Result<std::string> seal(const TicketKeySet& set) const;
    // Refuses anything but a well-formed set that opens under this seal.
    Result<TicketKeySet> open(std::string_view value) const;

private:
    TicketSeal() = default;
    std::array<unsigned char, 32> key_{};
    std::string path_;
};

// The operator's secret (cluster.ticket_secret_file), read once through one descriptor: a regular
// file (not followed through a symlink), owned by this process's user, readable by no one else,
// 32 to 4096 bytes. The caller cleanses what it gets.
Result<std::string> read_ticket_secret(const std::string& file);

// The set after `was` (or a fresh one when there is none): the keys shifted, a fresh `next`.
Result<TicketKeySet> rotate_ticket_keys(const std::optional<TicketKeySet>& was, const std::string& node,
                                        std::int64_t now);

struct Rotation {
    bool won = false;            // this node's put went in
    TicketKeySet set;            // the set in etcd now (this node's, or the one that won)
    std::int64_t revision = 0;   // its mod_revision
};

// Rotates the set at seal.path() if its revision is still `expected` (0: there is none yet);
// `was` is what was read at that revision.
awaitable<Result<Rotation>> rotate_in_etcd(EtcdClient& client, TicketSeal seal, std::string node, std::int64_t now,
                                           std::int64_t expected, std::optional<TicketKeySet> was);

}  // namespace ward::cluster
