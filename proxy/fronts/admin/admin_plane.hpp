// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin plane: the HTTPS API over every security setting (README "Admin API"), served on
// admin.bind with the admin.tls_context, by the server's control thread.
#include <functional>
#include <memory>

#include "config/result.hpp"
#include "proxy/engine/control.hpp"
#include "proxy/ops/accounts.hpp"

namespace ward::proxy::admin {

Result<std::unique_ptr<AdminPlane>> make_admin_plane(Control& control, asio::io_context& io);

// Tests move the admin plane's clock (lockout expiry, session expiry, password age) instead of
// waiting; nullptr restores the system clock. Set before the plane is made.
void set_clock_for_tests(std::function<ops::SystemClock::time_point()> clock);

}  // namespace ward::proxy::admin
