// SPDX-License-Identifier: Apache-2.0
#pragma once
// This ward as a member of its cluster, on the control thread:
//   - publishes its certificate (cluster.publish_certificate) under
//     <prefix>/<cluster>/nodes/<node.name> with a lease of cluster.lease_ttl, kept alive at a
//     third of it; a lost lease is granted again and the key put again;
//   - reads every node of its cluster and of the clusters it imports, watches them from the
//     revision it read, and keeps cluster.trust_store equal to their certificates
//     (trust_sync.hpp), reloading through the normal path when anything changed;
//   - when etcd is away, keeps the trust it has and keeps serving; reads again and watches
//     again once etcd answers;
//   - on stop, revokes its lease (its certificate leaves the others' stores at once).
#include <filesystem>
#include <memory>

#include "config/result.hpp"
#include "proxy/engine/control.hpp"

namespace ward::cluster {

// The factory the engine calls when the configuration has a cluster block.
Result<std::unique_ptr<proxy::ClusterMember>> make_member(proxy::Control& control, proxy::asio::io_context& io,
                                                          const std::filesystem::path& config_file);

}  // namespace ward::cluster
