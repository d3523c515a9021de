// SPDX-License-Identifier: Apache-2.0
#pragma once
// The checks that span sections of a configuration (references between sections, listener
// needs, address conflicts, mode rules), reported into `diagnostics` at file:line:col.
#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace ward::config {

void check_config(Config& config, Diagnostics& diagnostics);
// The cluster block's references and rules (cluster.cpp); check_config calls it.
void check_cluster(const Config& config, Diagnostics& diagnostics);

}  // namespace ward::config
