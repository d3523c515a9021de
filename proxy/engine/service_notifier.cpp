// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/service_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "proxy/engine/log.hpp"

namespace ward::proxy {

namespace {

// A status line in one line: a newline in it would start another assignment.
std::string one_line(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    if (socket && (socket[0] == '/' || socket[0] == '@') && std::strlen(socket) < sizeof(sockaddr_un::sun_path))
        address_ = socket;
}

void ServiceNotifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + one_line(status)); }

void ServiceNotifier::reloading(std::string_view status) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=" + one_line(status));
}

void ServiceNotifier::stopping(std::string_view status) { send("STOPPING=1\nSTATUS=" + one_line(status)); }

bool ServiceNotifier::send(const std::string& state) const {
    if (address_.empty()) return false;
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    std::memcpy(to.sun_path, address_.data(), address_.size());
    if (to.sun_path[0] == '@') to.sun_path[0] = '\0';  // an abstract name
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&to), length);
    ::close(fd);
    if (sent != static_cast<ssize_t>(state.size())) {
        proxy_log().warn("cannot tell the service manager ({}): {}", address_, std::strerror(errno));
        return false;
    }
    return true;
}

}  // namespace ward::proxy
