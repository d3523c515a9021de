// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keeps a trust store equal to the certificates a cluster's live nodes published, as `ward cert
// import` would put them there: each node's certificate in the store's folder (as
// cluster-<cluster>-<node>.pem, written atomically; other files in the folder are the
// operator's and stay), its subject CN in tls_peer_subjects (described "cluster <cluster> node
// <node>") and selected in every TLS context that uses the store. A node that left loses its
// file, and its subject when no live node has the same CN and ward added it. Certificates are
// held to the rules of an import: exactly one certificate, not a CA, one printable subject CN
// that no other node and no operator entry holds, allowed by the security mode.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/result.hpp"

namespace ward::cluster {

struct NodeKey {
    std::string cluster;
    std::string node;
    bool operator<(const NodeKey& o) const { return cluster != o.cluster ? cluster < o.cluster : node < o.node; }
};

// What the nodes published: PEM text by node.
using PublishedNodes = std::map<NodeKey, std::string>;

struct SyncReport {
    std::vector<std::string> changes;  // one line each; empty: nothing changed
    std::vector<std::string> refused;  // published certificates not taken, and why
    std::map<NodeKey, std::string> not_trusted;  // the same, by node
    bool config_written = false;
};

// Brings the trust store `store` of the configuration file `config_file` (and the file) in line
// with `nodes`; `own_cluster`'s nodes come first when two claim one subject CN. Writes nothing
// when nothing changed, and nothing at all while the folder holds a file ward did not write.
Result<SyncReport> sync_trust(const std::filesystem::path& config_file, const std::string& store,
                              const std::string& own_cluster, const PublishedNodes& nodes);

}  // namespace ward::cluster
