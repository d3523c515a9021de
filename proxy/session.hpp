#pragma once
// One accepted connection, top to bottom in one coroutine: TLS handshake with a deadline and
// peer verification (or, outbound, plaintext in and TLS originated), backend connect, relay
// both ways with backpressure and half-close, one summary line.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/asio.hpp"
#include "proxy/connection.hpp"
#include "proxy/metrics.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/stream_filter.hpp"

namespace ward::proxy {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Worker& worker, std::uint64_t id, tcp::socket socket, std::shared_ptr<const Snapshot> snapshot,
            const config::Listener& listener, std::shared_ptr<ListenerMetrics> metrics);
    ~Session();

    awaitable<void> run();
    // Closes both sides now (drain timeout, or an error in one direction).
    void abort(error_code reason);
    std::uint64_t id() const { return id_; }

private:
    enum class Phase { handshake, connect, relay };
    using clock = std::chrono::steady_clock;

    awaitable<bool> tls_handshake(Connection& side);
    awaitable<bool> connect_backend();
    awaitable<void> relay();
    awaitable<void> pump(Connection& from, Connection& to, StreamFilter* filter, std::uint64_t& bytes,
                         std::atomic<std::uint64_t>& counter, bool from_client);
    void set_deadline(clock::duration d);
    void arm_timer();
    void on_timer();
    void log_summary();
    // The summary line, then both sides closed and the timer stopped.
    void finish();
    const char* phase_name() const;

    Worker& worker_;
    std::uint64_t id_;
    std::shared_ptr<const Snapshot> snapshot_;  // kept for the session's lifetime (reload-safe)
    const config::Listener& listener_;
    std::shared_ptr<ListenerMetrics> metrics_;
    Connection client_;
    std::optional<Connection> backend_;
    std::unique_ptr<StreamFilter> filter_from_client_;
    std::unique_ptr<StreamFilter> filter_from_backend_;
    asio::steady_timer timer_;
    clock::time_point started_;
    clock::time_point deadline_{clock::time_point::max()};
    clock::time_point last_activity_;
    std::optional<clock::time_point> message_deadline_;
    Phase phase_ = Phase::handshake;
    error_code reason_;
    std::string detail_;
    std::string peer_;
    std::string backend_name_;
    std::string subject_;
    std::uint64_t bytes_from_client_ = 0;
    std::uint64_t bytes_to_client_ = 0;
    bool connect_timed_out_ = false;
};

}  // namespace ward::proxy
