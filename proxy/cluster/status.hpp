// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a cluster looks like from etcd: its live nodes (and the imported clusters'), each with the
// certificate it published (subject, SHA-256 fingerprint, expiry) and what is left of its lease.
// `ward cluster status` prints it; the admin API will serve it.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/result.hpp"
#include "proxy/cluster/etcd_client.hpp"

namespace ward::cluster {

struct NodeStatus {
    std::string cluster;
    std::string node;
    std::string subject;      // the certificate's CN ("" when it cannot be read)
    std::string fingerprint;  // SHA-256, "AB:CD:..."
    std::int64_t not_after = 0;  // Unix seconds
    std::int64_t lease_left = -1;  // seconds; -1: no lease (a key put by hand), 0: ended
    std::string problem;      // why the others do not trust it, when they do not
};

// The cluster's ticket key set as etcd holds it: who rotated it, when (the keys themselves are
// sealed; `opens` says whether they open with this configuration's secret).
struct TicketStatus {
    bool present = false;
    std::string rotated_by;
    std::int64_t rotated = 0;
    std::int64_t revision = 0;
    std::string problem;  // why it does not open here, when it does not (or cannot be read)
};

struct ClusterStatus {
    std::string endpoint;  // the etcd endpoint that answered
    std::int64_t revision = 0;
    std::vector<NodeStatus> nodes;  // by cluster, then node
    TicketStatus tickets;           // this cluster's
};

// A published certificate described (subject, fingerprint, expiry, or the problem reading it).
NodeStatus describe_node(std::string cluster, std::string node, const std::string& pem);

// `secret`: the ticket secret file's bytes ("" when not readable here: the set is not opened).
awaitable<Result<ClusterStatus>> read_status(EtcdClient& client, const config::Cluster& cluster,
                                             std::string secret = {});

// The status as a table, one node per line, for a terminal.
std::string format_status(const ClusterStatus& status, std::int64_t now);

}  // namespace ward::cluster
