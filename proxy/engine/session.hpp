// SPDX-License-Identifier: Apache-2.0
#pragma once
// One accepted connection, top to bottom in one coroutine: its listener's front runs the
// protocol (proxy/fronts/), using the steps here: the TLS handshake with a deadline and peer
// verification, the backend dial, the relay both ways with backpressure and half-close, and
// one summary line at the end. Protocol-free: the engine's half of every front.
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/buffer_pool.hpp"
#include "proxy/engine/connection.hpp"
#include "proxy/engine/metrics.hpp"
#include "proxy/engine/snapshot.hpp"
#include "proxy/engine/source_limiter.hpp"
#include "proxy/engine/stream_filter.hpp"

namespace ward::proxy {

class Worker;

// The listener's per-source key for an address (IPv4 as IPv4-mapped IPv6).
SourceKey source_key(const asio::ip::address& address);
// Whether `address` is one of the load balancers a listener takes PROXY headers from.
bool from_trusted_balancer(const std::vector<config::Network>& trusted, const asio::ip::address& address);

// What the summary line says of a session; fronts fill it in as they go.
struct SessionSummary {
    error_code reason;        // why it ended (unset: closed normally)
    std::string detail;       // the words behind the reason
    std::string subject;      // the verified peer subject
    std::uint64_t bytes_from_client = 0;
    std::uint64_t bytes_to_client = 0;

    // Keeps the first reason; the detail is the latest word.
    void fail(error_code why, std::string words) {
        if (!reason) reason = why;
        detail = std::move(words);
    }
};

class Session : public std::enable_shared_from_this<Session> {
public:
    // negotiate: the front's protocol before the relay (ward answers the peer itself);
    // closing: a last message to the peer, on a short deadline.
    // exchange: a request/response front (xmpp-web) between its relays.
    enum class Phase { negotiate, handshake, connect, exchange, relay, closing };
    using clock = std::chrono::steady_clock;

    Session(Worker& worker, std::uint64_t id, tcp::socket socket, const tcp::endpoint& peer,
            std::shared_ptr<const Snapshot> snapshot, const ListenerPlan& plan,
            std::shared_ptr<ListenerMetrics> metrics);
    ~Session();

    // The front, then the summary line.
    awaitable<void> run();
    // Closes both sides now (drain timeout, or an error in one direction).
    void abort(error_code reason);
    std::uint64_t id() const { return id_; }
    // The per-source place the worker took for this connection (SourceLimiter::admit said
    // admitted), given back when the session ends.
    void hold_source(const SourceKey& source) { source_ = source; }

    // --- what a front is handed -----------------------------------------------------------
    const config::Listener& listener() const { return listener_; }
    const tls::Context& context() const { return context_; }
    const Snapshot& snapshot() const { return *snapshot_; }
    Connection& client() { return client_; }
    Connection& backend() { return *backend_; }
    bool has_backend() const { return backend_.has_value(); }
    // Closes and forgets the backend connection.
    void drop_backend();
    // Hands the backend connection over (a front that keeps connections between sessions), and
    // takes one (connected to `endpoint`) as this session's backend.
    std::optional<Connection> take_backend();
    void adopt_backend(Connection connection, const config::Endpoint& endpoint);
    const std::optional<config::Endpoint>& backend_endpoint() const { return backend_endpoint_; }
    // What the front prepared for this listener with the session's snapshot (Front::prepare).
    const void* front_state() const { return front_state_; }
    std::shared_ptr<const Snapshot> snapshot_ptr() const { return snapshot_; }
    SessionSummary& summary() { return summary_; }

    // Phases and deadlines. handshake_timeout is one budget from accept to the relay: every
    // phase before it waits until negotiation_deadline(); a connect gets connect_timeout per
    // backend within it. When it passes in the negotiate phase, the session's waits are
    // cancelled once and negotiation_expired() turns true, with one more second for the front's
    // last word; in any other phase the session is aborted.
    // (The relay ends the negotiation: the session leaves the handshakes in flight.)
    void enter(Phase phase) {
        phase_ = phase;
        if (phase == Phase::relay) settle_handshake();
    }
    // Leaves the handshakes in flight (once): the relay does it, request/response fronts when
    // the first complete request has arrived.
    void settle_handshake();
    void negotiation_deadline();
    bool negotiation_expired() const { return negotiation_expired_; }
    // Request/response fronts: the deadline of the wait at hand (a request, the backend's
    // answer, the next request). When it passes, the session's waits are cancelled once and
    // exchange_expired() turns true, with one more second for the front's answer (408, 504).
    void exchange_deadline(clock::time_point until);
    bool exchange_expired() const { return exchange_expired_; }
    // A fresh handshake_timeout budget for connecting to the backend again (a front that
    // reconnects between requests).
    void renew_connect_budget() { negotiation_ends_ = clock::now() + listener_.limits.handshake_timeout; }
    Worker& worker() { return worker_; }
    ListenerMetrics& metrics() { return *metrics_; }
    std::shared_ptr<ListenerMetrics> metrics_ptr() const { return metrics_; }
    // The client's address, as accepted ("192.0.2.1", "2001:db8::1"; IPv4 unmapped), or as
    // the PROXY header of a load balancer the listener trusts named it.
    std::string peer_address() const;
    // For log lines: "address:port" of the client (as the PROXY header named it, if one did),
    // and "host:port" of the backend reached ("" before one is). Made when a line is written:
    // at the usual log level no session writes one.
    std::string peer_text() const;
    std::string backend_text() const;

    // --- steps ----------------------------------------------------------------------------
    // The handshake on `side` (its SSL attached), counted in the metrics; on failure the
    // summary says why (timeout, refusal, closed, TLS error).
    awaitable<bool> tls_handshake(Connection& side);
    // Inbound TLS on the client: the context's server SSL, the handshake within the budget, the
    // verified subject into the summary. A refusal is the peer's doing: one rate-limited line
    // instead of the summary, and the session is over.
    // `alpn`: the one application protocol a client that offers ALPN must offer.
    awaitable<bool> accept_tls(const char* alpn = nullptr);
    // Outbound TLS on the backend (connected): the context's client SSL, with SNI for the
    // backend's host when it is a DNS name (RFC 6066 section 3), the handshake within the
    // budget, the verified server subject into the summary.
    // `check_name`: the certificate must also name the backend's host (RFC 6125). `context`:
    // another than the listener's (a front following a reload); it must outlive the session's
    // use of the backend.
    awaitable<bool> originate_tls(bool check_name = false, const tls::Context* context = nullptr);
    // TLS where the listener says, and the backend: inbound, the client's handshake then the
    // dial (a failed dial ends our sending to the client); outbound (plaintext in on loopback),
    // the dial then ward's handshake with the backend. False when the session is over.
    awaitable<bool> tls_and_backend();
    // Dials the listener's backends (or `endpoints`) in order; false when none answered.
    awaitable<bool> connect_backend();
    awaitable<bool> connect_to(const std::vector<config::Endpoint>& endpoints);
    // Request/response fronts: writes `bytes` to the client within `until` (an exchange
    // deadline), counted in the summary; false, the summary saying why, when it failed or
    // timed out.
    awaitable<bool> write_to_client(std::string bytes, clock::time_point until);
    // Writes `bytes` to `side`, ends sending, and finishes the session: the last word. What the
    // peer still sends meanwhile is read and dropped until it closes (a lingering close, at most
    // kLingerBytes within the closing second): closing with unread bytes would reset the
    // connection, and a reset can destroy the answer before the peer has read it.
    static constexpr std::size_t kLingerBytes = 256 * 1024;
    awaitable<void> last_word(Connection& side, std::string bytes);
    // That lingering close, after shutdown_send (within the closing second).
    awaitable<void> linger(Connection& side);
    // The relay's filters, per direction (none: bytes pass as they are), handed over before
    // relay() starts.
    void set_filters(std::unique_ptr<StreamFilter> from_client, std::unique_ptr<StreamFilter> from_backend = {});
    // Relays both ways until both directions ended, each direction through its filter if any.
    awaitable<void> relay();
    // The same relay, handed the session: starts it and returns at once, and the front's
    // coroutine must return right after (nothing of it is left while the session relays; an
    // idle session then holds its two readiness waits and no coroutine frame). The relay
    // finishes the session when both directions have ended.
    void start_relay();
    bool relay_owns_end() const { return relay_owns_end_; }
    // The session leaves the worker's live sessions and count (Worker::session_ended), once:
    // when its coroutine ends, or when the relay it was handed to does.
    void leave_worker();
    // The summary line (once), then both sides closed and the timer stopped.
    void finish();

private:
    // A direction of the relay: a plain handler while it only moves bytes (pump_plain), the
    // pump coroutine for a transforming filter; either way direction_ended() once it is over.
    void start_directions(bool owns_end);
    // A direction's source, destination and filter (index: from_client).
    struct Ends {
        Connection& from;
        Connection& to;
        StreamFilter* filter;
    };
    Ends ends(bool from_client);
    void start_direction(bool from_client);
    void pump_plain(bool from_client);
    // Runs one of a direction's coroutine steps; `go_on`'s result true: back to pump_plain.
    void spawn_step(awaitable<bool> step, bool from_client);
    awaitable<bool> write_step(bool from_client, BufferPool::Buffer buffer, std::size_t n, std::size_t written,
                               error_code tried);
    awaitable<bool> end_step(bool from_client, error_code ec);
    void direction_ended();
    awaitable<void> pump(Connection& from, Connection& to, StreamFilter& transform, bool from_client);
    // The pump's steps beyond a plain relay: its source's end, its source's failure, and a
    // chunk through a transforming filter (false when the direction ended).
    awaitable<void> end_of_stream(Connection& to, StreamFilter* filter, StreamFilter* transform, bool from_client);
    awaitable<void> source_failed(Connection& from, Connection& to, StreamFilter* filter, error_code ec,
                                  bool from_client);
    awaitable<bool> filtered(Connection& from, Connection& to, StreamFilter& filter, BufferPool::Buffer buffer,
                             std::size_t n, bool from_client);
    // A direction of the relay ended by an exception: logged, the session aborted.
    void relay_failed(bool from_client, std::exception_ptr e) noexcept;
    void report_relay_failure(bool from_client, std::exception_ptr e);
    // A direction of the relay failed (a read or a write): the session is aborted, unless a
    // side is lingering after ward's last word.
    void direction_failed(error_code ec);
    // Bytes relayed in one direction, into the summary and the listener's counters.
    void count_relayed(bool from_client, std::size_t n);
    // A filter's last word for `to` when its source went away; true when one was written.
    awaitable<bool> last_word_for(Connection& to, std::string word, bool from_client);
    // The earliest request a relay filter waits on, and the answers for those that passed;
    // false when the session was aborted (a sender that does not read them).
    std::optional<clock::time_point> filters_due() const;
    bool answer_for_silent_side(clock::time_point now);
    struct AnswerQueue {
        std::string queued;         // not yet handed to write_all
        std::size_t in_flight = 0;  // being written
        bool writing = false;
    };
    static awaitable<void> write_answers(std::shared_ptr<Session> self, Connection* to, AnswerQueue* queue);
    // A connection from a load balancer the listener names in accept_proxy_protocol: its PROXY
    // v2 header, read within the negotiation's budget (and nothing after it), names the client.
    // False when it is missing or malformed (the session is over).
    awaitable<bool> accept_proxy_header();
    // The PROXY v2 header for the backend (proxy_protocol: v2): the client's address, the one
    // it connected to, and its TLS connection.
    std::string proxy_header();
    // The per-source limits for the client a PROXY header named (the balancer's own address
    // was not counted); false when they refuse it.
    bool admit_named_client();
    void set_deadline(clock::duration d);
    void arm_timer();
    void on_timer();
    void cancel_io();
    void log_summary();
    // Gives back the slots the worker reserved in the connection limits (once).
    void release_slots();
    const char* phase_name() const;

    Worker& worker_;
    std::uint64_t id_;
    std::shared_ptr<const Snapshot> snapshot_;  // kept for the session's lifetime (reload-safe)
    const config::Listener& listener_;
    const tls::Context& context_;  // resolved with the snapshot
    const Front& front_;
    const void* front_state_;
    std::shared_ptr<ListenerMetrics> metrics_;
    Connection client_;
    std::optional<Connection> backend_;
    std::unique_ptr<StreamFilter> filter_from_client_;
    std::unique_ptr<StreamFilter> filter_from_backend_;
    AnswerQueue answers_to_client_;
    AnswerQueue answers_to_backend_;
    // relay() waits on this timer (made then) until both directions have ended.
    std::unique_ptr<asio::steady_timer> pump_joined_;
    int directions_running_ = 0;
    bool relay_owns_end_ = false;  // start_relay: the relay finishes the session
    bool left_worker_ = false;
    std::size_t since_yield_[2] = {0, 0};  // per direction (index: from_client)
    asio::steady_timer timer_;
    clock::time_point started_;
    clock::time_point negotiation_ends_;  // started_ + handshake_timeout
    clock::time_point deadline_{clock::time_point::max()};
    clock::time_point last_activity_;
    std::optional<clock::time_point> message_deadline_;
    Phase phase_ = Phase::handshake;
    SessionSummary summary_;
    asio::ip::address peer_ip_;
    std::uint16_t peer_port_ = 0;
    std::string via_;  // the load balancer's address, when a PROXY header named the client
    std::optional<tcp::endpoint> proxied_destination_;  // the address the client connected to, per the header
    std::optional<config::Endpoint> backend_endpoint_;  // the backend connected to
    bool connect_timed_out_ = false;
    tcp::resolver* resolving_ = nullptr;  // the backend name being resolved (connect phase)
    bool negotiation_expired_ = false;
    bool exchange_expired_ = false;
    std::uint64_t timer_generation_ = 0;
    bool finished_ = false;
    bool lingering_ = false;  // last_word's drain: its deadline closes, it is not a failure
    bool slots_released_ = false;
    bool handshake_settled_ = false;
    std::optional<SourceKey> source_;  // held in the listener's SourceLimiter
};

}  // namespace ward::proxy
