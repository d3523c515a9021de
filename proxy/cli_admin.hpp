// SPDX-License-Identifier: Apache-2.0
#pragma once
// `ward admin ...` (accounts offline, and a console client of the admin API) and `ward audit
// verify`.
#include <string>
#include <vector>

namespace ward::proxy {

int cmd_admin(const std::vector<std::string>& args);
int cmd_audit(const std::vector<std::string>& args);

}  // namespace ward::proxy
