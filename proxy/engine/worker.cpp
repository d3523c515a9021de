// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/worker.hpp"

#include "proxy/engine/session.hpp"

namespace ward::proxy {

Worker::Worker(unsigned id, Metrics& metrics) : id_(id), metrics_(metrics), work_(io_.get_executor()) {}

Worker::~Worker() {
    stop();
    join();
}

void Worker::start() {
    thread_ = std::thread([this] {
        for (;;) {
            try {
                io_.run();
                return;
            } catch (const std::exception& e) {
                // A bug escaped a handler: say so and keep serving the other sessions.
                proxy_log().error("worker {}: unexpected exception: {}", id_, e.what());
            } catch (...) {
                proxy_log().error("worker {}: unexpected exception", id_);
            }
        }
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::stop() {
    work_.reset();
    io_.stop();
}

void Worker::apply(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> opened,
                   std::vector<std::string> closed, std::function<void()> applied) {
    asio::post(io_, [this, snapshot = std::move(snapshot), opened = std::move(opened), closed = std::move(closed),
                     applied = std::move(applied)]() mutable {
        snapshot_ = std::move(snapshot);
        for (const auto& key : closed) {
            if (auto it = acceptors_.find(key); it != acceptors_.end()) {
                error_code ec;
                it->second->acceptor.close(ec);
                acceptors_.erase(it);
            }
        }
        for (auto& s : opened) {
            const auto* plan = snapshot_->find_listener(s.name);
            if (!plan) continue;
            const auto* listener = plan->listener;
            tcp::acceptor acceptor(io_);
            error_code ec;
            const auto protocol = listener->bind.host.find(':') != std::string::npos ? tcp::v6() : tcp::v4();
            acceptor.assign(protocol, s.fd, ec);
            if (ec) {
                proxy_log().error("worker {}: cannot adopt the socket of listener {}: {}", id_, s.name, ec.message());
                continue;
            }
            auto a = std::make_shared<Acceptor>(
                Acceptor{s.name, std::move(acceptor),
                         metrics_.listener(s.name, std::string(config::to_string(listener->protocol)))});
            acceptors_[s.key] = a;
            asio::co_spawn(io_, accept_loop(a), [name = s.name, id = id_](std::exception_ptr e) {
                if (e) proxy_log().error("worker {}: accept loop of {} ended: {}", id, name, exception_text(e));
            });
        }
        // Kept listeners pick the new listener settings up by name at their next accept.
        for (auto& [key, a] : acceptors_) {
            if (const auto* plan = snapshot_->find_listener(a->name))
                a->metrics = metrics_.listener(a->name, std::string(config::to_string(plan->listener->protocol)));
        }
        if (applied) applied();
    });
}

std::optional<tcp::endpoint> Worker::local_endpoint(const std::string& listener) const {
    for (const auto& [key, a] : acceptors_) {
        if (a->name != listener) continue;
        error_code ec;
        auto endpoint = a->acceptor.local_endpoint(ec);
        if (!ec) return endpoint;
    }
    return std::nullopt;
}

void Worker::stop_accepting() {
    asio::post(io_, [this] {
        for (auto& [key, a] : acceptors_) {
            error_code ec;
            a->acceptor.close(ec);
        }
        acceptors_.clear();
    });
}

void Worker::abort_sessions() {
    asio::post(io_, [this] {
        for (auto& [id, weak] : live_)
            if (auto s = weak.lock()) s->abort(make_error_code(Errc::shutting_down));
    });
}

namespace {

// A full listener refuses this many connections in a row, then leaves new ones in the kernel's
// queue for kFullPause: at most 6,400 refusals a second per worker, and nothing waits in a
// full queue (4,096) for more than about 640 ms before its answer.
constexpr int kRefusalsPerPause = 64;
constexpr std::chrono::milliseconds kFullPause{10};

}  // namespace

awaitable<void> Worker::accept_loop(std::shared_ptr<Acceptor> a) {
    tcp::endpoint peer;  // filled by accept(): no getpeername per connection
    int refused_in_a_row = 0;
    for (;;) {
        auto [ec, socket] = co_await a->acceptor.async_accept(peer, use_tuple);
        if (ec == asio::error::operation_aborted || !a->acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: say so (rate-limited) and go on; never stop accepting.
            std::uint64_t suppressed = 0;
            if (refusal_limiter_.allow(suppressed))
                proxy_log().warn("worker {}: accept on {} failed: {}", id_, a->name, ec.message());
            // Out of descriptors, files, memory or buffers: it fails again at once, so wait a little.
            if (ec != asio::error::connection_aborted) {
                asio::steady_timer pause(io_, std::chrono::milliseconds(50));
                co_await pause.async_wait(use_tuple);
            }
            continue;
        }
        bool admitted = true;
        try {
            admitted = spawn_session(a, std::move(socket), peer);
        } catch (const std::exception& x) {  // out of memory: this connection, not the listener
            std::uint64_t suppressed = 0;
            if (refusal_limiter_.allow(suppressed))
                proxy_log().error("worker {}: a connection on {} could not be served: {}", id_, a->name, x.what());
        }
        refused_in_a_row = admitted ? 0 : refused_in_a_row + 1;
        if (refused_in_a_row >= kRefusalsPerPause) {
            // Full: accepting only to refuse costs this worker as much as the connection costs
            // the flood that sends it, and a refused client reconnects at once. New connections
            // wait in the kernel's queue for a moment (and past its length, their SYNs are
            // dropped there), while established sessions go on.
            refused_in_a_row = 0;
            asio::steady_timer pause(io_, kFullPause);
            co_await pause.async_wait(use_tuple);
        }
    }
}

namespace {

// A refused connection is reset, not closed: no FIN exchange and no TIME_WAIT on ward's side.
void refuse(tcp::socket& socket) {
    error_code ec;
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    socket.close(ec);
}

}  // namespace

bool Worker::spawn_session(std::shared_ptr<Acceptor> a, tcp::socket socket, const tcp::endpoint& peer) {
    const auto* plan = snapshot_ ? snapshot_->find_listener(a->name) : nullptr;
    if (!plan) return true;  // removed by a reload a moment ago
    const auto* listener = plan->listener;
    auto& m = *a->metrics;
    m.accepted.fetch_add(1, std::memory_order_relaxed);
    // Limits: excess connections are closed at once and counted, never queued. A slot is
    // reserved before checking, so workers accepting at the same moment cannot both take the
    // last one; the session gives its slots back when it ends.
    if (m.active.fetch_add(1, std::memory_order_relaxed) >= static_cast<std::int64_t>(listener->limits.max_connections)) {
        m.active.fetch_sub(1, std::memory_order_relaxed);
        m.refused_listener_limit.fetch_add(1, std::memory_order_relaxed);
        refuse(socket);
        return false;
    }
    if (global_active().fetch_add(1, std::memory_order_relaxed) >=
        static_cast<std::int64_t>(snapshot_->config.limits.max_connections)) {
        global_active().fetch_sub(1, std::memory_order_relaxed);
        m.active.fetch_sub(1, std::memory_order_relaxed);
        m.refused_global_limit.fetch_add(1, std::memory_order_relaxed);
        refuse(socket);
        return false;
    }
    // Handshakes in flight, then the source address (a trusted load balancer's clients are
    // counted once its PROXY header names them).
    auto undo = [&] {
        m.handshakes_in_flight.fetch_sub(1, std::memory_order_relaxed);
        global_active().fetch_sub(1, std::memory_order_relaxed);
        m.active.fetch_sub(1, std::memory_order_relaxed);
    };
    if (m.handshakes_in_flight.fetch_add(1, std::memory_order_relaxed) >=
        static_cast<std::int64_t>(listener->limits.max_handshakes_in_flight)) {
        undo();
        m.refused_handshakes_in_flight.fetch_add(1, std::memory_order_relaxed);
        refuse(socket);
        return false;
    }
    std::optional<SourceKey> held;
    const auto& per_source = listener->limits.per_source;
    const bool per_source_on = per_source.connections != 0 || per_source.handshakes_per_second != 0;
    if (per_source_on && !from_trusted_balancer(listener->accept_proxy_protocol, peer.address())) {
        const auto key = source_key(peer.address());
        const auto verdict = m.sources.admit(key, per_source.connections, per_source.handshakes_per_second);
        if (m.refused_by_source(verdict)) {
            undo();
            refuse(socket);
            return true;  // one address's excess: the others are still served at once
        }
        if (verdict == SourceLimiter::Verdict::admitted) held = key;
    }
    const std::uint64_t id = (next_session_++ << 8) | id_;
    std::shared_ptr<Session> session;
    try {
        session = std::make_shared<Session>(*this, id, std::move(socket), peer, snapshot_, *plan, a->metrics);
    } catch (...) {
        // No session to give the slots back when it ends: given back here.
        if (held) m.sources.release(*held);
        undo();
        throw;
    }
    if (held) session->hold_source(*held);
    live_[id] = session;
    session_count_.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(io_, session->run(), [this, id, session](std::exception_ptr e) {
        // (A session that handed itself to its relay ends when the relay does.)
        if (!session->relay_owns_end()) session->leave_worker();
        if (e) proxy_log().error("[c{} w{}] session ended by an unexpected exception: {}", id, id_, exception_text(e));
    });
    return true;
}

void Worker::session_ended(std::uint64_t id) {
    live_.erase(id);
    session_count_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace ward::proxy
