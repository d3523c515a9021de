// SPDX-License-Identifier: Apache-2.0
#include "running_ward.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "net_test_support.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/fronts/fronts.hpp"

namespace ward::test {

RunningWard::RunningWard(const std::filesystem::path& config_file, bool register_fronts) {
    proxy::init_logging(config::LogLevel::info);
    if (register_fronts) proxy::register_fronts();
    config::Diagnostics diagnostics(config_file.string());
    auto snapshot = proxy::build_snapshot(config_file, diagnostics);
    INFO(diagnostics.to_string());
    REQUIRE(snapshot);
    server_ = std::make_unique<proxy::Server>(config_file);
    server_->set_reload_observer([this](bool applied) {
        std::lock_guard lock(mutex_);
        if (pending_) {
            pending_->set_value(applied);
            pending_ = nullptr;
        }
    });
    REQUIRE(server_->start(snapshot));
    thread_ = std::thread([this] { server_->run(false); });
}

RunningWard::~RunningWard() {
    server_->request_stop();
    if (thread_.joinable()) thread_.join();
}

std::uint16_t RunningWard::port(const std::string& listener) const {
    auto e = server_->bound_endpoint(listener);
    REQUIRE(e);
    return e->port();
}

std::uint16_t RunningWard::metrics_port() const {
    auto e = server_->metrics_endpoint();
    REQUIRE(e);
    return e->port();
}

bool RunningWard::reload(std::chrono::milliseconds deadline) {
    std::promise<bool> promise;
    auto future = promise.get_future();
    {
        std::lock_guard lock(mutex_);
        pending_ = &promise;
    }
    server_->request_reload();
    if (future.wait_for(deadline) != std::future_status::ready) {
        std::lock_guard lock(mutex_);
        pending_ = nullptr;
        FAIL("reload did not finish within the deadline");
        return false;
    }
    return future.get();
}

std::string fetch_metrics(std::uint16_t port) {
    const int fd = connect_tcp(port);
    if (fd < 0) return {};
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string response;
    wait_closed(fd, std::chrono::seconds(10), &response);
    ::close(fd);
    return response;
}

}  // namespace ward::test
