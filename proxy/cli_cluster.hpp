// SPDX-License-Identifier: Apache-2.0
#pragma once
// `ward cluster status`: the cluster's nodes as etcd holds them.
#include <string>
#include <vector>

namespace ward::proxy {

int cmd_cluster(const std::vector<std::string>& args);

}  // namespace ward::proxy
