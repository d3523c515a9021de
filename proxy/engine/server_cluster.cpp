// SPDX-License-Identifier: Apache-2.0
// The server's side of a cluster (cluster:): the member, made by the registered factory, and
// what it tells the admin API and the metrics endpoint.
#include <algorithm>
#include <ctime>

#include "proxy/engine/log.hpp"
#include "proxy/engine/server.hpp"

namespace ward::proxy {

bool Server::start_cluster(std::shared_ptr<const Snapshot> snapshot) {
    const auto factory = cluster_member_factory();
    if (!factory) {
        proxy_log().error("cluster: clusters are not served by this build");
        return false;
    }
    auto member = factory(*this, control_, config_file_);
    if (!member) {
        proxy_log().error("cluster: {}", member.error());
        return false;
    }
    cluster_ = std::move(*member);
    cluster_->follow(std::move(snapshot));
    return true;
}

std::optional<ClusterView> Server::cluster() const {
    if (!cluster_) return std::nullopt;
    return cluster_->view();
}

std::string cluster_metrics_text(const ClusterView& c) {
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    const std::string labels = "{cluster=\"" + c.name + "\",node=\"" + c.node + "\"}";
    auto line = [&](const char* name, std::int64_t v) { out += name + labels + " " + std::to_string(v) + "\n"; };
    family("ward_cluster_etcd_up", "gauge", "1 while etcd answers this node, 0 while it is away (the trust in force stays).");
    line("ward_cluster_etcd_up", c.etcd_reachable ? 1 : 0);
    family("ward_cluster_etcd_last_contact_timestamp_seconds", "gauge", "When etcd last answered this node.");
    line("ward_cluster_etcd_last_contact_timestamp_seconds", c.etcd_last_contact);
    family("ward_cluster_published", "gauge", "1 while this node's certificate is in etcd under a live lease.");
    line("ward_cluster_published", c.published ? 1 : 0);
    std::int64_t trusted = 0;
    for (const auto& n : c.nodes) trusted += n.trusted ? 1 : 0;
    family("ward_cluster_nodes", "gauge", "Nodes published in etcd (this cluster's and the imported ones').");
    line("ward_cluster_nodes", static_cast<std::int64_t>(c.nodes.size()));
    family("ward_cluster_nodes_trusted", "gauge", "Published nodes whose certificates are in the cluster's trust store.");
    line("ward_cluster_nodes_trusted", trusted);
    family("ward_cluster_ticket_keys_shared", "gauge",
           "1: the cluster's session ticket keys are in force and current; 0: stale (etcd away) or this node's own.");
    line("ward_cluster_ticket_keys_shared", c.ticket_keys == "shared" ? 1 : 0);
    family("ward_cluster_ticket_keys_age_seconds", "gauge", "Seconds since the ticket key set in force was rotated.");
    line("ward_cluster_ticket_keys_age_seconds",
         c.ticket_rotated == 0 ? 0 : std::max<std::int64_t>(0, static_cast<std::int64_t>(std::time(nullptr)) - c.ticket_rotated));
    family("ward_cluster_ticket_rotations_total", "counter", "Rotations of the cluster's ticket keys this node won.");
    line("ward_cluster_ticket_rotations_total", static_cast<std::int64_t>(c.ticket_rotations));
    return out;
}

}  // namespace ward::proxy
