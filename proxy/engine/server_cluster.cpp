// SPDX-License-Identifier: Apache-2.0
// The server's side of a cluster (cluster:): the member, made by the registered factory.
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

}  // namespace ward::proxy
