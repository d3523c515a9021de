// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/session.hpp"

#include <algorithm>
#include <array>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/values.hpp"
#include "proxy/engine/front.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/proxy_header.hpp"
#include "proxy/engine/revocation.hpp"
#include "proxy/engine/worker.hpp"
#include "tls/alpn.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/x509.hpp"

namespace ward::proxy {

Session::Session(Worker& worker, std::uint64_t id, tcp::socket socket, const tcp::endpoint& peer,
                 std::shared_ptr<const Snapshot> snapshot, const ListenerPlan& plan,
                 std::shared_ptr<ListenerMetrics> metrics)
    : worker_(worker),
      id_(id),
      snapshot_(std::move(snapshot)),
      listener_(*plan.listener),
      context_(*plan.context),
      front_(*plan.front),
      front_state_(plan.state.get()),
      metrics_(std::move(metrics)),
      client_(std::move(socket)),
      timer_(worker.io()),
      started_(clock::now()),
      negotiation_ends_(started_ + listener_.limits.handshake_timeout),
      last_activity_(started_),
      peer_ip_(peer.address()),
      peer_port_(peer.port()) {
    // The worker reserved this session's slots in metrics_->active, global_active and
    // metrics_->handshakes_in_flight (and its place in metrics_->sources, hold_source).
}

Session::~Session() { release_slots(); }

std::string Session::peer_text() const { return endpoint_text(tcp::endpoint(peer_ip_, peer_port_)); }

std::string Session::backend_text() const { return backend_endpoint_ ? backend_endpoint_->to_string() : std::string(); }

std::string Session::peer_address() const {
    auto a = peer_ip_;
    // Dual-stack listeners see IPv4 clients as ::ffff:a.b.c.d.
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a.to_string();
}

void Session::release_slots() {
    if (slots_released_) return;
    slots_released_ = true;
    settle_handshake();
    if (source_) metrics_->sources.release(*source_);
    source_.reset();
    metrics_->active.fetch_sub(1, std::memory_order_relaxed);
    worker_.global_active().fetch_sub(1, std::memory_order_relaxed);
}

void Session::settle_handshake() {
    if (handshake_settled_) return;
    handshake_settled_ = true;
    metrics_->handshakes_in_flight.fetch_sub(1, std::memory_order_relaxed);
}

const char* Session::phase_name() const {
    switch (phase_) {
        case Phase::negotiate: return "negotiate";
        case Phase::handshake: return "handshake";
        case Phase::connect: return "connect";
        case Phase::exchange: return "exchange";
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

void Session::exchange_deadline(clock::time_point until) {
    phase_ = Phase::exchange;
    exchange_expired_ = false;
    deadline_ = until;
    arm_timer();
}

void Session::arm_timer() {
    timer_.expires_at(deadline_);
    // A completion already queued when the timer is re-armed cannot be cancelled: it carries
    // the generation it was armed for, and a later one makes it stale.
    timer_.async_wait([weak = weak_from_this(), generation = ++timer_generation_](error_code ec) {
        if (ec) return;  // re-armed or cancelled
        auto self = weak.lock();
        if (self && generation == self->timer_generation_) self->on_timer();
    });
}

void Session::on_timer() {
    if (phase_ == Phase::closing && lingering_) {
        // The peer did not close within the closing second: closed now, as planned.
        client_.close();
        if (backend_) backend_->close();
        return;
    }
    if (phase_ == Phase::negotiate && !negotiation_expired_) {
        // Too slow: the front wakes (its waits are cancelled) to say so in its protocol, with
        // one more second for that.
        negotiation_expired_ = true;
        summary_.fail(make_error_code(Errc::timed_out),
                      "negotiation not completed within " + std::to_string(listener_.limits.handshake_timeout.count()) +
                          "ms");
        cancel_io();
        set_deadline(std::chrono::seconds(1));
        return;
    }
    if (phase_ == Phase::exchange && !exchange_expired_) {
        exchange_expired_ = true;
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
            summary_.detail = "no backend connected within the negotiation's " +
                              std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
            abort(make_error_code(Errc::timed_out));
            return;
        }
        // A lookup that goes on (it cannot be interrupted) is still bounded by the budget.
        deadline_ = negotiation_ends_;
        arm_timer();
        return;
    }
    if (phase_ == Phase::relay) {
        // Idle and message deadlines move with traffic: only time out when they really passed.
        const auto now = clock::now();
        if (!answer_for_silent_side(now)) return;
        auto due = last_activity_ + listener_.limits.idle_timeout;
        if (message_deadline_ && *message_deadline_ < due) due = *message_deadline_;
        if (const auto requests = filters_due(); requests && *requests < due) due = *requests;
        if (now < due) {
            deadline_ = due;
            arm_timer();
            return;
        }
        summary_.detail = message_deadline_ && *message_deadline_ <= clock::now() ? "message not completed in time"
                                                                                  : "idle";
    }
    abort(make_error_code(Errc::timed_out));
}

void Session::abort(error_code reason) {
    if (!summary_.reason) summary_.reason = reason;
    client_.close();
    if (backend_) backend_->close();
    timer_.cancel();
}

awaitable<bool> Session::tls_handshake(Connection& side) {
    const auto begin = clock::now();
    const auto ec = co_await side.handshake();
    if (!ec) {
        RevocationVerdict revocation;
        if (revocation_applies(side.ssl())) {
            auto check = check_revocation(side.ssl(), side.socket().get_executor(), negotiation_ends_);
            revocation = co_await std::move(check);
        }
        if (!revocation.allowed) {
            summary_.reason = make_error_code(Errc::peer_refused);
            summary_.detail = revocation.why;
            metrics_->handshakes_failed[static_cast<std::size_t>(HandshakeFailure::peer_refused)].fetch_add(
                1, std::memory_order_relaxed);
            co_return false;
        }
        metrics_->handshakes_ok.fetch_add(1, std::memory_order_relaxed);
        metrics_->observe_handshake(clock::now() - begin);
        co_return true;
    }
    HandshakeFailure kind = HandshakeFailure::tls_error;
    const auto refusal = tls::peer_refusal_reason(side.ssl());
    auto& out = summary_;
    if (out.reason == make_error_code(Errc::timed_out)) {
        kind = HandshakeFailure::timeout;
        out.detail = "no TLS handshake within " + std::to_string(listener_.limits.handshake_timeout.count()) + "ms";
    } else if (!refusal.empty()) {
        kind = HandshakeFailure::peer_refused;
        out.reason = make_error_code(Errc::peer_refused);
        out.detail = refusal;
    } else if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        kind = HandshakeFailure::closed;
        out.reason = ec;
        out.detail = "peer closed during the handshake";
    } else {
        out.reason = ec;
        out.detail = side.tls_error().empty() ? ec.message() : side.tls_error();
    }
    metrics_->handshakes_failed[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    co_return false;
}

void Session::cancel_io() {
    error_code ec;
    client_.socket().cancel(ec);
    if (backend_) backend_->socket().cancel(ec);
}

awaitable<bool> Session::connect_backend() {
    const bool connected = co_await connect_to(listener_.backends);  // (not `co_return co_await`)
    co_return connected;
}

awaitable<bool> Session::connect_to(const std::vector<config::Endpoint>& backends) {
    phase_ = Phase::connect;
    for (const auto& b : backends) {
        // Each backend gets connect_timeout, within what is left of the negotiation's budget.
        if (clock::now() >= negotiation_ends_) {
            summary_.fail(make_error_code(Errc::timed_out),
                          "no backend connected within the negotiation's " +
                              std::to_string(listener_.limits.handshake_timeout.count()) + "ms");
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
            if (summary_.reason) break;
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
            if (oec) continue;  // (out of descriptors, most likely: this endpoint is not tried)
            backend_.emplace(std::move(socket));
            auto ec = co_await backend_->connect(endpoint);
            if (!ec && !connect_timed_out_ && listener_.proxy_protocol == config::ProxyProtocol::v2 &&
                !config::is_outbound(listener_.protocol)) {
                // The PROXY header goes first, before anything of the client's.
                const auto header = proxy_header();
                ec = co_await backend_->write_all(header.data(), header.size());
            }
            if (!ec && !connect_timed_out_) {
                // (Its options were set when Connection took the open socket.)
                backend_endpoint_ = b;
                co_return true;
            }
            backend_.reset();
            if (summary_.reason || connect_timed_out_) break;
        }
        if (summary_.reason) break;
    }
    if (!summary_.reason) summary_.reason = make_error_code(Errc::backend_unreachable);
    if (summary_.detail.empty()) summary_.detail = "no backend accepted the connection";
    metrics_->backend_failures.fetch_add(1, std::memory_order_relaxed);
    co_return false;
}

void Session::finish() {
    const bool log = !finished_;
    finished_ = true;
    client_.close();
    if (backend_) backend_->close();
    timer_.cancel();
    // Both sides are closed: the connection slots are free now, before the summary line (whoever
    // reads it may connect again at once), not when the coroutine frame is gone.
    release_slots();
    if (log) log_summary();
}

std::optional<Connection> Session::take_backend() {
    std::optional<Connection> out;
    if (backend_) out.emplace(std::move(*backend_));
    backend_.reset();
    return out;
}

void Session::adopt_backend(Connection connection, const config::Endpoint& endpoint) {
    drop_backend();
    backend_.emplace(std::move(connection));
    backend_endpoint_ = endpoint;
}

void Session::drop_backend() {
    if (backend_) backend_->close();
    backend_.reset();
}

awaitable<void> Session::run() {
    auto self = shared_from_this();
    // (Called only where a balancer may connect: a coroutine's frame is allocated on every
    // call, and freed between a session's long-lived allocations it fragments the heap.)
    bool accepted = true;
    if (!listener_.accept_proxy_protocol.empty()) accepted = co_await accept_proxy_header();
    if (accepted) co_await front_.serve(*this);
    if (!relay_owns_end_) finish();  // (else the relay does, when it ends)
}

awaitable<bool> Session::accept_tls(const char* alpn) {
    client_.attach_tls(context_.new_server());
    if (alpn) tls::expect_alpn(client_.ssl(), alpn);
    enter(Phase::handshake);
    negotiation_deadline();
    if (co_await tls_handshake(client_)) {
        summary_.subject = tls::verified_peer_subject(client_.ssl());
        co_return true;
    }
    // A refusal is a peer's doing: one rate-limited line instead of the summary.
    std::uint64_t suppressed = 0;
    if (session_log().should_log(spdlog::level::info) && worker_.refusal_limiter().allow(suppressed)) {
        session_log().info("[c{} w{}] {} {} refused in handshake: {}{}", id_, worker_.id(), listener_.name, peer_text(),
                           summary_.detail,
                           suppressed ? " (" + std::to_string(suppressed) + " similar lines suppressed)" : "");
    }
    finished_ = true;
    finish();
    co_return false;
}

awaitable<bool> Session::originate_tls(bool check_name, const tls::Context* context) {
    // SNI carries DNS names only (RFC 6066 section 3), as configured: never an address.
    const auto& host = backend_endpoint_->host;
    const bool literal = config::is_ip_literal(host);
    backend_->attach_tls((context ? *context : context_).new_client(literal ? std::string() : host));
    if (check_name) {
        // RFC 6125: the certificate must name the host (a DNS name in a subjectAltName; an
        // address in an iPAddress entry), checked by the chain verification itself.
        SSL* ssl = backend_->ssl();
        const bool set = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
                                 : SSL_set1_host(ssl, host.c_str()) == 1;
        if (!set) {
            ERR_clear_error();
            summary_.fail(make_error_code(Errc::tls_failure), "cannot check the server's name '" + host + "'");
            co_return false;
        }
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    enter(Phase::handshake);
    negotiation_deadline();
    if (!co_await tls_handshake(*backend_)) co_return false;
    // An address is named by an iPAddress entry and nothing else, checked here too: wolfSSL
    // matches an address as text against every name the certificate has.
    if (check_name && literal && !tls::names_ip_address(SSL_get0_peer_certificate(backend_->ssl()), host)) {
        summary_.fail(make_error_code(Errc::tls_failure), "the server's certificate has no iPAddress " + host);
        co_return false;
    }
    // A host name by ward's own RFC 6125 check too: the library's is skipped where a verify
    // callback overrides an error (wolfSSL: a pinned certificate, a tolerated missing CRL).
    if (check_name && !literal && !tls::names_dns_host(SSL_get0_peer_certificate(backend_->ssl()), host)) {
        summary_.fail(make_error_code(Errc::tls_failure), "the server's certificate does not name " + host);
        co_return false;
    }
    summary_.subject = tls::verified_peer_subject(backend_->ssl());
    co_return true;
}

awaitable<bool> Session::tls_and_backend() {
    // (One co_return at the end: GCC 12 mis-builds this frame with `co_return co_await`.)
    bool ok = false;
    if (config::is_outbound(listener_.protocol)) {
        ok = co_await connect_backend();
        if (ok) ok = co_await originate_tls();
    } else {
        ok = co_await accept_tls();
        if (ok) {
            ok = co_await connect_backend();
            if (!ok) co_await client_.shutdown_send();
        }
    }
    co_return ok;
}

awaitable<bool> Session::write_to_client(std::string bytes, clock::time_point until) {
    exchange_deadline(until);
    const auto ec = co_await client_.write_all(bytes.data(), bytes.size());
    if (ec || exchange_expired_) {
        summary_.fail(ec ? ec : make_error_code(Errc::timed_out), "writing to the client failed");
        co_return false;
    }
    summary_.bytes_to_client += bytes.size();
    co_return true;
}

awaitable<void> Session::last_word(Connection& side, std::string bytes) {
    enter(Phase::closing);
    set_deadline(std::chrono::seconds(1));
    if (!bytes.empty()) co_await side.write_all(bytes.data(), bytes.size());
    co_await side.shutdown_send();
    co_await linger(side);
    finish();
}

awaitable<void> Session::linger(Connection& side) {
    // (Both callers have entered the closing phase and started its second.)
    lingering_ = true;
    co_await side.drain(kLingerBytes);
}

void Session::log_summary() {
    if (!session_log().should_log(spdlog::level::info)) return;  // (the words below cost a few allocations)
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started_).count();
    std::string reason;
    const auto& out = summary_;
    const auto backend = backend_text();
    if (!out.reason || out.reason == asio::error::eof || out.reason == asio::error::operation_aborted)
        reason = "closed";
    else
        reason = out.reason.message();
    SSL* ssl = client_.is_tls() ? client_.ssl() : (backend_ && backend_->is_tls() ? backend_->ssl() : nullptr);
    session_log().info("[c{} w{}] {} {} -> {} {} phase={} sent_to_backend={} sent_to_client={} duration={}ms tls={} "
                       "cipher={} peer_subject={}{}{}{}{}",
                       id_, worker_.id(), listener_.name, peer_text(), backend.empty() ? "-" : backend, reason,
                       phase_name(), out.bytes_from_client, out.bytes_to_client, ms, ssl ? SSL_get_version(ssl) : "-",
                       ssl ? SSL_get_cipher_name(ssl) : "-", out.subject.empty() ? "-" : out.subject,
                       via_.empty() ? "" : " via=", via_, out.detail.empty() ? "" : " detail=", out.detail);
}

}  // namespace ward::proxy
