// SPDX-License-Identifier: Apache-2.0
#pragma once
// What an admin plane may ask of the running proxy, and how one plugs in. The engine names no
// protocol: the admin API (HTTP, accounts, audit) is a front of its own (proxy/fronts/admin/),
// registered once at start like the listener fronts. The server binds admin.bind and runs the
// plane on its control thread, the one that builds snapshots and reloads: admin requests are
// rare, and on that thread they need no lock to read the state or to reload.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/result.hpp"
#include "proxy/engine/asio.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::proxy {

struct ReloadOutcome {
    bool applied = false;
    std::uint64_t generation = 0;  // in force afterwards
    std::vector<config::Diagnostic> diagnostics;
    std::string message;  // one line: what happened
    std::chrono::system_clock::time_point when;
};

struct ListenerStatus {
    std::string name;
    std::string protocol;
    std::string bind;  // the bound address ("" when not bound)
    std::string tls_context;
    std::int64_t active = 0;
    std::uint64_t accepted = 0;
    std::uint64_t handshakes = 0;  // completed since start
    std::uint64_t refusals = 0;    // refused in the handshake or by a connection limit
    std::uint64_t handshake_failures = 0;
};

// A cluster member's view of its cluster (the admin API's GET /api/v1/cluster, /readyz, metrics).
struct ClusterNodeView {
    std::string cluster;
    std::string node;
    std::string subject;
    std::string fingerprint;       // SHA-256 of the published certificate
    std::int64_t not_after = 0;    // Unix seconds
    std::int64_t last_seen = 0;    // Unix seconds: the last time etcd answered with it there
    bool trusted = false;          // in the cluster's trust store
    std::string problem;           // why not, when not
};

struct ClusterView {
    std::string name;
    std::string node;
    bool etcd_reachable = false;
    std::string etcd_endpoint;       // the endpoint that answered last
    std::string etcd_error;          // the last failure, while etcd is away
    std::int64_t etcd_last_contact = 0;  // Unix seconds
    bool published = false;          // this node's certificate is in etcd under a live lease
    // Session ticket keys: "shared" (the cluster's set), "stale" (the cluster's set while etcd
    // is away), or "local" (this node's own: before the first read, or after etcd was away for
    // two rotation periods).
    std::string ticket_keys = "local";
    std::string ticket_rotated_by;   // the node that made the set in force
    std::int64_t ticket_rotated = 0; // when (Unix seconds)
    std::uint64_t ticket_rotations = 0;  // rotations this node won
    std::vector<ClusterNodeView> nodes;
};

class Control {
public:
    virtual ~Control() = default;
    // The snapshot new connections get.
    virtual std::shared_ptr<const Snapshot> current() const = 0;
    // Reloads the configuration file now (control thread only); with `reopen`, that listener
    // is re-opened (new acceptor, new contexts) while its established sessions finish.
    virtual ReloadOutcome reload(const std::string& reopen = {}) = 0;
    virtual const ReloadOutcome& last_reload() const = 0;
    virtual std::vector<ListenerStatus> listeners() const = 0;
    // Every listener of the current configuration bound.
    virtual bool ready() const = 0;
    // The cluster as this node sees it; none without a cluster block.
    virtual std::optional<ClusterView> cluster() const { return std::nullopt; }
};

class AdminPlane {
public:
    virtual ~AdminPlane() = default;
    // One accepted connection, to its end (on the control thread).
    virtual awaitable<void> serve(tcp::socket socket, tcp::endpoint peer) = 0;
};

// Makes the plane when the configuration enables it (its accounts and audit log opened);
// the error says why it cannot start.
using AdminPlaneFactory = Result<std::unique_ptr<AdminPlane>> (*)(Control& control, asio::io_context& io);
void register_admin_plane(AdminPlaneFactory factory);
AdminPlaneFactory admin_plane_factory();

// A cluster of wards (cluster:): a member runs on the control thread beside the admin plane,
// publishing this node and keeping the cluster's trust store, and reloads through `Control`.
// The engine names no store: the member is registered once at start (proxy/cluster/).
class ClusterMember {
public:
    virtual ~ClusterMember() = default;
    // The snapshot in force (after start and after every reload that took effect).
    virtual void follow(std::shared_ptr<const Snapshot> snapshot) = 0;
    // Ward is stopping: leave the cluster (bounded), stop every loop.
    virtual void stop() = 0;
    virtual ClusterView view() const = 0;
};

using ClusterMemberFactory = Result<std::unique_ptr<ClusterMember>> (*)(Control& control, asio::io_context& io,
                                                                        const std::filesystem::path& config_file);
void register_cluster_member(ClusterMemberFactory factory);
ClusterMemberFactory cluster_member_factory();

}  // namespace ward::proxy
