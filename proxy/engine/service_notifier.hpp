// SPDX-License-Identifier: Apache-2.0
#pragma once
// The service manager's readiness protocol (systemd's sd_notify(3), without libsystemd): state
// lines sent as one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for
// an abstract name). Without that variable every call does nothing. ward says READY=1 when its
// listeners are open, RELOADING=1 (with MONOTONIC_USEC) when a reload begins and READY=1 again
// when it ended, STOPPING=1 when it drains, and a STATUS= line each time.
#include <string>
#include <string_view>

namespace ward::proxy {

class ServiceNotifier {
public:
    // Reads $NOTIFY_SOCKET once.
    ServiceNotifier();
    bool enabled() const { return !address_.empty(); }

    void ready(std::string_view status);
    void reloading(std::string_view status);
    void stopping(std::string_view status);
    // Sends `state` (newline-separated assignments) as is; false when it could not be sent.
    bool send(const std::string& state) const;

private:
    std::string address_;
};

}  // namespace ward::proxy
