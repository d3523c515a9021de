#include "proxy/session.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "proxy/log.hpp"
#include "config/values.hpp"
#include "proxy/sip_filter.hpp"
#include "proxy/worker.hpp"
#include "tls/peer_verifier.hpp"

namespace ward::proxy {

using namespace asio::experimental::awaitable_operators;
using config::Protocol;

namespace {

bool is_sip(Protocol p) { return p == Protocol::sip || p == Protocol::sip_outbound; }

}  // namespace

Session::Session(Worker& worker, std::uint64_t id, tcp::socket socket, const tcp::endpoint& peer,
                 std::shared_ptr<const Snapshot> snapshot, const ListenerPlan& plan,
                 std::shared_ptr<ListenerMetrics> metrics)
    : worker_(worker),
      id_(id),
      snapshot_(std::move(snapshot)),
      listener_(*plan.listener),
      context_(*plan.context),
      metrics_(std::move(metrics)),
      client_(std::move(socket)),
      timer_(worker.io()),
      started_(clock::now()),
      negotiation_ends_(started_ + listener_.limits.handshake_timeout),
      last_activity_(started_),
      peer_(endpoint_text(peer)) {
    // The worker reserved this session's slots in metrics_->active and global_active.
}

Session::~Session() {
    metrics_->active.fetch_sub(1, std::memory_order_relaxed);
    worker_.global_active().fetch_sub(1, std::memory_order_relaxed);
}

const char* Session::phase_name() const {
    switch (phase_) {
        case Phase::negotiate: return "negotiate";
        case Phase::handshake: return "handshake";
        case Phase::connect: return "connect";
        case Phase::relay: return "relay";
        case Phase::closing: return "closing";
    }
    return "?";
}

void Session::set_deadline(clock::duration d) {
    deadline_ = clock::now() + d;
    arm_timer();
}

void Session::negotiation_deadline() {
    deadline_ = negotiation_ends_;
    arm_timer();
}

void Session::arm_timer() {
    timer_.expires_at(deadline_);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
        if (ec) return;  // re-armed or cancelled
        if (auto self = weak.lock()) self->on_timer();
    });
}

void Session::on_timer() {
    if (phase_ == Phase::negotiate && !negotiation_expired_) {
        // Too slow: the negotiation wakes (its waits are cancelled) to send
        // <connection-timeout/>, with one more second for that.
        negotiation_expired_ = true;
        reason_ = make_error_code(Errc::timed_out);
        detail_ = "stream negotiation not completed within " +
                  std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
        cancel_io();
        set_deadline(std::chrono::seconds(1));
        return;
    }
    if (phase_ == Phase::connect) {
        // This backend did not answer in time (nor its name resolve): give up on it, not on
        // the client, unless the negotiation's budget is spent too. A name lookup already
        // running cannot be interrupted (getaddrinfo on Asio's resolver thread), so the client
        // is closed now rather than when the lookup returns.
        connect_timed_out_ = true;
        if (resolving_) resolving_->cancel();
        if (backend_) backend_->close();
        if (clock::now() >= negotiation_ends_) {
            detail_ = "no backend connected within the negotiation's " +
                      std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
            abort(make_error_code(Errc::timed_out));
        }
        return;
    }
    if (phase_ == Phase::relay) {
        // Idle and message deadlines move with traffic: only time out when they really passed.
        auto due = last_activity_ + listener_.limits.idle_timeout;
        if (message_deadline_ && *message_deadline_ < due) due = *message_deadline_;
        if (clock::now() < due) {
            deadline_ = due;
            arm_timer();
            return;
        }
        detail_ = message_deadline_ && *message_deadline_ <= clock::now() ? "message not completed in time"
                                                                          : "idle";
    }
    abort(make_error_code(Errc::timed_out));
}

void Session::abort(error_code reason) {
    if (!reason_) reason_ = reason;
    client_.close();
    if (backend_) backend_->close();
    timer_.cancel();
}

awaitable<bool> Session::tls_handshake(Connection& side) {
    const auto begin = clock::now();
    const auto ec = co_await side.handshake();
    if (!ec) {
        metrics_->handshakes_ok.fetch_add(1, std::memory_order_relaxed);
        metrics_->observe_handshake(clock::now() - begin);
        co_return true;
    }
    HandshakeFailure kind = HandshakeFailure::tls_error;
    const auto refusal = tls::peer_refusal_reason(side.ssl());
    if (reason_ == make_error_code(Errc::timed_out)) {
        kind = HandshakeFailure::timeout;
        detail_ = "no TLS handshake within " + std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
    } else if (!refusal.empty()) {
        kind = HandshakeFailure::peer_refused;
        reason_ = make_error_code(Errc::peer_refused);
        detail_ = refusal;
    } else if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        kind = HandshakeFailure::closed;
        reason_ = ec;
        detail_ = "peer closed during the handshake";
    } else {
        reason_ = ec;
        detail_ = side.tls_error().empty() ? ec.message() : side.tls_error();
    }
    metrics_->handshakes_failed[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    co_return false;
}

void Session::cancel_io() {
    error_code ec;
    client_.socket().cancel(ec);
    if (backend_) backend_->socket().cancel(ec);
}

awaitable<bool> Session::connect_backend() { co_return co_await connect_to(listener_.backends); }

awaitable<bool> Session::connect_to(const std::vector<config::Endpoint>& backends) {
    phase_ = Phase::connect;
    for (const auto& b : backends) {
        // Each backend gets connect_timeout, within what is left of the negotiation's budget.
        if (clock::now() >= negotiation_ends_) {
            reason_ = make_error_code(Errc::timed_out);
            detail_ = "no backend connected within the negotiation's " +
                      std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
            break;
        }
        connect_timed_out_ = false;
        deadline_ = std::min(clock::now() + listener_.limits.connect_timeout, negotiation_ends_);
        arm_timer();
        // An address needs no resolver (which would hand the lookup to another thread).
        std::vector<tcp::endpoint> endpoints;
        error_code aec;
        const auto address = asio::ip::make_address(b.host == "localhost" ? "127.0.0.1" : b.host, aec);
        if (!aec) {
            endpoints.emplace_back(address, b.port);
        } else {
            tcp::resolver resolver(worker_.io());
            resolving_ = &resolver;
            auto [rec, results] = co_await resolver.async_resolve(b.host, std::to_string(b.port), use_tuple);
            resolving_ = nullptr;
            if (reason_) break;
            if (rec || connect_timed_out_) continue;
            for (const auto& entry : results) endpoints.push_back(entry.endpoint());
        }
        for (const auto& endpoint : endpoints) {
            // Opened non-blocking before the connect, so Asio's connect needs no ioctl of its
            // own; Connection sets TCP_NODELAY on the open socket, before the connect.
            tcp::socket socket(worker_.io());
            error_code oec;
            socket.open(endpoint.protocol(), oec);
            if (!oec) socket.non_blocking(true, oec);
            backend_.emplace(std::move(socket));
            auto [ec] = co_await backend_->socket().async_connect(endpoint, use_tuple);
            if (!ec && !connect_timed_out_) {
                // (Its options were set when Connection took the open socket.)
                backend_name_ = b.to_string();
                backend_endpoint_ = b;
                co_return true;
            }
            backend_.reset();
            if (reason_ || connect_timed_out_) break;
        }
        if (reason_) break;
    }
    if (!reason_) reason_ = make_error_code(Errc::backend_unreachable);
    if (detail_.empty()) detail_ = "no backend accepted the connection";
    metrics_->backend_failures.fetch_add(1, std::memory_order_relaxed);
    co_return false;
}

awaitable<void> Session::pump(Connection& from, Connection& to, StreamFilter* filter, std::uint64_t& bytes,
                              bool from_client) {
    auto& pool = worker_.pool();
    auto& relay_counters = metrics_->relay_of(worker_.id());
    auto& counter = from_client ? relay_counters.bytes_from_client : relay_counters.bytes_to_client;
    const std::size_t size = listener_.limits.buffer_size;
    // Reads and writes that complete at once never return to the event loop: after this many
    // bytes in a row, the pump yields, so two fast peers cannot keep a worker's other sessions
    // (and their timers) waiting.
    constexpr std::size_t kYieldAfter = 256 * 1024;
    std::size_t since_yield = 0;
    for (;;) {
        if (since_yield >= kYieldAfter) {
            since_yield = 0;
            co_await asio::post(worker_.io(), asio::use_awaitable);
        }
        // Read first, wait only when the socket is empty (edge-triggered readiness), and hold
        // no buffer while waiting.
        auto buffer = pool.take(size);
        auto [ec, n] = from.try_read(buffer.data(), buffer.size());
        if (Connection::must_wait(ec)) {
            buffer = {};
            if (const auto wec = co_await from.wait_for(ec)) {
                abort(wec);
                co_return;
            }
            continue;
        }
        if (ec == asio::error::eof) {
            if (filter && filter->feed(nullptr, 0).mid_message) {
                // A message cut short by the end of the stream is dropped, never forwarded.
                detail_ = "stream ended inside a message";
            }
            co_await to.shutdown_send();
            co_return;
        }
        if (ec) {
            abort(ec);
            co_return;
        }
        last_activity_ = clock::now();
        if (filter) {
            auto out = filter->feed(buffer.data(), n);
            buffer = {};  // the filter holds what it still needs
            // Forward first, then answer the sender: the pings or the broken message came after
            // what is forwarded.
            if (!out.forward.empty()) {
                if (auto wec = co_await to.write_all(out.forward.data(), out.forward.size()); wec) {
                    abort(wec);
                    co_return;
                }
                bytes += out.forward.size();
                RelayCounters::add(counter, out.forward.size());
                since_yield += out.forward.size();
            }
            if (!out.reply.empty()) {
                if (auto wec = co_await from.write_all(out.reply.data(), out.reply.size()); wec) {
                    abort(wec);
                    co_return;
                }
            }
            if (out.close) {
                detail_ = std::string(from_client ? "client" : "backend") + ": " + out.reason;
                co_await from.shutdown_send();
                abort(make_error_code(Errc::protocol_error));
                co_return;
            }
            if (out.mid_message && !message_deadline_) {
                message_deadline_ = clock::now() + listener_.sip->message_timeout;
                if (*message_deadline_ < deadline_) {
                    deadline_ = *message_deadline_;
                    arm_timer();
                }
            } else if (!out.mid_message) {
                message_deadline_.reset();
            }
            continue;
        }
        if (auto wec = co_await to.write_all(buffer.data(), n); wec) {
            abort(wec);
            co_return;
        }
        bytes += n;
        RelayCounters::add(counter, n);
        since_yield += n;
    }
}

awaitable<void> Session::relay() {
    phase_ = Phase::relay;
    last_activity_ = clock::now();
    deadline_ = last_activity_ + listener_.limits.idle_timeout;
    arm_timer();
    co_await (pump(client_, *backend_, filter_from_client_.get(), bytes_from_client_, true) &&
              pump(*backend_, client_, filter_from_backend_.get(), bytes_to_client_, false));
}

void Session::finish() {
    log_summary();
    client_.close();
    if (backend_) backend_->close();
    timer_.cancel();
}

awaitable<void> Session::run() {
    auto self = shared_from_this();
    const auto protocol = listener_.protocol;
    if (config::is_xmpp(protocol)) {
        // (An if, not a conditional: GCC 12 miscompiles co_await around `?:`.)
        if (protocol == Protocol::xmpp_server_outbound)
            co_await run_xmpp_outbound();
        else
            co_await run_xmpp();
        co_return;
    }
    const bool outbound = config::is_outbound(protocol);

    if (!outbound) {
        client_.attach_tls(context_.new_server());
        negotiation_deadline();
        if (!co_await tls_handshake(client_)) {
            // A refusal is a peer's doing: one rate-limited line instead of the summary.
            std::uint64_t suppressed = 0;
            if (worker_.refusal_limiter().allow(suppressed)) {
                session_log().info("[c{} w{}] {} {} refused in handshake: {}{}", id_, worker_.id(), listener_.name,
                                   peer_, detail_,
                                   suppressed ? " (" + std::to_string(suppressed) + " similar lines suppressed)" : "");
            }
            client_.close();
            timer_.cancel();
            co_return;
        }
        subject_ = tls::verified_peer_subject(client_.ssl());
    }

    if (!co_await connect_backend()) {
        if (!outbound) co_await client_.shutdown_send();
        finish();
        co_return;
    }

    if (outbound) {
        // SNI carries DNS names only (RFC 6066 section 3), as configured: never an address.
        const auto& host = backend_endpoint_->host;
        backend_->attach_tls(context_.new_client(config::is_ip_literal(host) ? std::string() : host));
        phase_ = Phase::handshake;
        negotiation_deadline();
        if (!co_await tls_handshake(*backend_)) {
            finish();
            co_return;
        }
        subject_ = tls::verified_peer_subject(backend_->ssl());
    }

    if (is_sip(protocol)) {
        const auto& sip = *listener_.sip;
        std::optional<SipIdentity> identity;
        if (protocol == Protocol::sip) identity = SipIdentity{sip.identity_header, subject_, listener_.name, context_.name()};
        auto from_client = make_sip_filter(sip, /*from_peer=*/!outbound, identity);
        auto from_backend = make_sip_filter(sip, /*from_peer=*/outbound, std::nullopt);
        if (!from_client || !from_backend) {
            reason_ = make_error_code(Errc::protocol_error);
            detail_ = !from_client ? from_client.error() : from_backend.error();
            finish();
            co_return;
        }
        filter_from_client_ = std::move(from_client.value());
        filter_from_backend_ = std::move(from_backend.value());
    }

    co_await relay();
    finish();
}

void Session::log_summary() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started_).count();
    std::string reason;
    if (!reason_ || reason_ == asio::error::eof || reason_ == asio::error::operation_aborted)
        reason = "closed";
    else
        reason = reason_.message();
    SSL* ssl = client_.is_tls() ? client_.ssl() : (backend_ && backend_->is_tls() ? backend_->ssl() : nullptr);
    session_log().info("[c{} w{}] {} {} -> {} {} phase={} sent_to_backend={} sent_to_client={} duration={}ms tls={} "
                       "cipher={} peer_subject={}{}{}",
                       id_, worker_.id(), listener_.name, peer_, backend_name_.empty() ? "-" : backend_name_, reason,
                       phase_name(), bytes_from_client_, bytes_to_client_, ms, ssl ? SSL_get_version(ssl) : "-",
                       ssl ? SSL_get_cipher_name(ssl) : "-", subject_.empty() ? "-" : subject_,
                       detail_.empty() ? "" : " detail=", detail_);
}

}  // namespace ward::proxy
