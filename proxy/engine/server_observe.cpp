// SPDX-License-Identifier: Apache-2.0
// The server's own observation points, on the control thread: the Prometheus endpoint, and the
// daily look at certificates about to expire.
#include <boost/asio/write.hpp>

#include "proxy/engine/log.hpp"
#include "proxy/engine/server.hpp"
#include "tls/tls_counters.hpp"

namespace ward::proxy {

namespace {

using tls::prometheus_label;

// Presented certificates this close to their end are logged once a day.
constexpr std::int64_t kExpiryLogDays = 14;

}  // namespace

std::string certificate_expiry_text(const std::vector<tls::CertificateExpiry>& expiries) {
    if (expiries.empty()) return {};
    std::string out =
        "# HELP ward_certificate_expiry_timestamp_seconds When each certificate ward presents, and each one in a trust "
        "store a context uses, stops being valid (notAfter, Unix time).\n"
        "# TYPE ward_certificate_expiry_timestamp_seconds gauge\n";
    for (const auto& e : expiries) {
        out += "ward_certificate_expiry_timestamp_seconds{certificate=\"" + prometheus_label(e.certificate) +
               "\",subject=\"" + prometheus_label(e.subject) + "\"} " + std::to_string(e.not_after) + "\n";
    }
    return out;
}

std::string Server::metrics_text() const {
    auto text = metrics_.prometheus_text();
    if (auto snapshot = current()) text += certificate_expiry_text(snapshot->tls.expiries);
    text += tls::context_counters_text();
    if (auto c = cluster()) text += cluster_metrics_text(*c);
    return text;
}

void Server::log_expiring() const {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto snapshot = current();
    if (!snapshot) return;
    for (const auto& e : snapshot->tls.expiries) {
        if (!e.presented) continue;
        const auto left = e.not_after - now;
        if (left <= 0)
            proxy_log().error("certificate '{}' ({}) has expired: peers refuse it; renew it and reload", e.certificate,
                              e.subject);
        else if (left < kExpiryLogDays * 86400)
            proxy_log().warn("certificate '{}' ({}) expires in {} day{}: renew it and reload", e.certificate, e.subject,
                             left / 86400, left / 86400 == 1 ? "" : "s");
    }
}

awaitable<void> Server::watch_expiry() {
    asio::steady_timer timer(control_);
    for (;;) {
        log_expiring();
        timer.expires_after(std::chrono::hours(24));
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec) co_return;
    }
}

awaitable<void> Server::serve_metrics(tcp::acceptor acceptor) {
    metrics_acceptor_ = std::make_unique<tcp::acceptor>(std::move(acceptor));
    for (;;) {
        auto [ec, socket] = co_await metrics_acceptor_->async_accept(use_tuple);
        if (ec == asio::error::operation_aborted || !metrics_acceptor_->is_open()) co_return;
        if (ec) {
            co_await pause_after_accept_error(control_, ec);
            continue;
        }
        asio::co_spawn(control_, metrics_request(std::move(socket)), [](std::exception_ptr e) {
            if (e) proxy_log().error("metrics request ended by an unexpected exception");
        });
    }
}

awaitable<void> Server::metrics_request(tcp::socket client) {
    // One request, read within 5 s and 8 KiB, then the answer and close. The deadline's handler
    // may run after this frame is gone (it is queued when the timer fires), so it shares the
    // socket's ownership instead of pointing into the frame.
    auto shared = std::make_shared<tcp::socket>(std::move(client));
    auto& socket = *shared;
    asio::steady_timer deadline(control_, std::chrono::seconds(5));
    deadline.async_wait([weak = std::weak_ptr<tcp::socket>(shared)](error_code ec) {
        if (ec) return;
        if (auto s = weak.lock()) {
            error_code ignored;
            s->close(ignored);
        }
    });
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) co_return;
        request.append(buf, n);
    }
    deadline.cancel();
    std::string status = "200 OK", body;
    if (request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0) {
        body = metrics_text();
    } else if (request.rfind("GET ", 0) == 0) {
        status = "404 Not Found";
        body = "try /metrics\n";
    } else {
        status = "405 Method Not Allowed";
        body = "GET only\n";
    }
    const std::string response = "HTTP/1.1 " + status +
                                 "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    co_await asio::async_write(socket, asio::buffer(response), use_tuple);
    error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace ward::proxy
