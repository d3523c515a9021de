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
#include "xmpp/negotiation.hpp"

namespace ward::proxy {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Worker& worker, std::uint64_t id, tcp::socket socket, const tcp::endpoint& peer,
            std::shared_ptr<const Snapshot> snapshot, const ListenerPlan& plan,
            std::shared_ptr<ListenerMetrics> metrics);
    ~Session();

    awaitable<void> run();
    // Closes both sides now (drain timeout, or an error in one direction).
    void abort(error_code reason);
    std::uint64_t id() const { return id_; }

private:
    // negotiate: XMPP stream negotiation (ward answers the stream itself); closing: a last
    // message to the peer, on a short deadline.
    enum class Phase { negotiate, handshake, connect, relay, closing };
    using clock = std::chrono::steady_clock;

    awaitable<bool> tls_handshake(Connection& side);
    awaitable<bool> connect_backend();
    awaitable<bool> connect_to(const std::vector<config::Endpoint>& endpoints);

    // XMPP (session_xmpp.cpp).
    awaitable<void> run_xmpp();
    awaitable<void> run_xmpp_outbound();
    // Reads what is there, waiting as needed: (error, bytes), eof at the end.
    awaitable<std::pair<error_code, std::size_t>> read_some(Connection& side, char* data, std::size_t size);
    // Feeds `negotiation` from `side`, writing what it answers, until it asks for more than
    // bytes to send; those actions come back with their `send` not yet written. A deadline
    // that passes comes back as the <connection-timeout/> failure; nullopt when the peer left.
    // Bytes read are appended to `seen` when given.
    awaitable<std::optional<xmpp::NegotiationActions>> negotiate(Connection& side, xmpp::Negotiation& negotiation,
                                                                 std::string* seen);
    // Reads the stream header and first element the other server sends on `from` and passes
    // them to `to`: header verbatim, features without STARTTLS and compression (with an
    // optional <starttls/> first), then whatever followed.
    awaitable<bool> pass_opening(Connection& from, Connection& to, bool offer_starttls);
    // The negotiation refused the peer (`close`, or an after-TLS header that did not pass):
    // its reason for the log, its bytes as the last word to the client.
    awaitable<void> refuse_stream(xmpp::NegotiationActions actions);
    // Writes `bytes` to `side`, ends sending, and finishes the session: the last word.
    awaitable<void> last_word(Connection& side, std::string bytes);
    void cancel_io();
    awaitable<void> relay();
    awaitable<void> pump(Connection& from, Connection& to, StreamFilter* filter, std::uint64_t& bytes,
                         bool from_client);
    void set_deadline(clock::duration d);
    // The negotiation's one deadline, from accept: handshake_timeout bounds everything before
    // the relay (XMPP negotiation, TLS handshake, backend connect, the stream restart) together.
    void negotiation_deadline();
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
    const tls::Context& context_;  // resolved with the snapshot
    std::shared_ptr<ListenerMetrics> metrics_;
    Connection client_;
    std::optional<Connection> backend_;
    std::unique_ptr<StreamFilter> filter_from_client_;
    std::unique_ptr<StreamFilter> filter_from_backend_;
    asio::steady_timer timer_;
    clock::time_point started_;
    clock::time_point negotiation_ends_;  // started_ + handshake_timeout
    clock::time_point deadline_{clock::time_point::max()};
    clock::time_point last_activity_;
    std::optional<clock::time_point> message_deadline_;
    Phase phase_ = Phase::handshake;
    error_code reason_;
    std::string detail_;
    std::string peer_;
    std::string backend_name_;
    std::optional<config::Endpoint> backend_endpoint_;  // the backend connected to
    std::string subject_;
    std::uint64_t bytes_from_client_ = 0;
    std::uint64_t bytes_to_client_ = 0;
    bool connect_timed_out_ = false;
    tcp::resolver* resolving_ = nullptr;  // the backend name being resolved (connect phase)
    bool negotiation_expired_ = false;
};

}  // namespace ward::proxy
