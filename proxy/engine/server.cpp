// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/server.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include <boost/asio/ip/v6_only.hpp>

#include "proxy/engine/log.hpp"

namespace ward::proxy {

namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

tcp::endpoint bind_endpoint(const config::Endpoint& e) {
    if (e.host == "*") return {asio::ip::address_v6::any(), e.port};
    if (e.host == "localhost") return {asio::ip::address_v4::loopback(), e.port};
    return {asio::ip::make_address(e.host), e.port};
}

// Opens `acceptor` and binds it: dual-stack for the IPv6 wildcard, SO_REUSEADDR, and
// SO_REUSEPORT when the workers are to share the address.
error_code open_and_bind(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, bool shared) {
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified())
        acceptor.set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && shared) acceptor.set_option(reuse_port(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    return ec;
}

unsigned worker_count(const config::Config& c) {
    if (c.workers) return c.workers;
    const unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
}

}  // namespace

std::string listener_key(const config::Listener& l) {
    return l.name + "|" + std::string(config::to_string(l.protocol)) + "|" + l.bind.to_string();
}

// A failing accept (out of descriptors, files, memory or buffers) fails again at once for as
// long as the cause lasts: wait a little instead of spinning on the control thread.
awaitable<void> pause_after_accept_error(asio::io_context& io, error_code ec) {
    if (ec == asio::error::connection_aborted) co_return;  // the peer left: nothing to wait for
    asio::steady_timer pause(io, std::chrono::milliseconds(50));
    co_await pause.async_wait(use_tuple);
}

Server::Server(std::filesystem::path config_file) : config_file_(std::move(config_file)) {}

Server::~Server() {
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
}

bool Server::bind_listener(const config::Listener& l, std::vector<ListenerSocket>& per_worker, Bound& bound) {
    auto endpoint = bind_endpoint(l.bind);
    const auto n = workers_.size();
    // SO_REUSEPORT would let this ward share a port with another process (a second ward, an
    // old one still draining) and quietly receive part of its traffic. A probe without it
    // fails with "address in use" when anyone holds the port; then the real sockets bind.
    // Skipped for an address this ward itself holds (a listener changed on reload).
    bool ours = false;
    {
        std::lock_guard lock(bound_mutex_);
        for (const auto& [name, b] : bound_) ours = ours || b.endpoint == endpoint;
    }
    if (endpoint.port() != 0 && !ours) {
        tcp::acceptor probe(control_);
        if (const auto ec = open_and_bind(probe, endpoint, false)) {
            proxy_log().error("listener {}: cannot listen on {}: {}", l.name, l.bind.to_string(), ec.message());
            return false;
        }
    }
    std::vector<ListenerSocket> sockets;
    for (std::size_t i = 0; i < n; ++i) {
        tcp::acceptor acceptor(control_);
        auto ec = open_and_bind(acceptor, endpoint, true);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            proxy_log().error("listener {}: cannot listen on {}: {}", l.name, l.bind.to_string(), ec.message());
            for (auto& s : sockets) ::close(s.fd);
            return false;
        }
        // Port 0: the first socket got a port from the system; the others share it.
        if (i == 0) endpoint = acceptor.local_endpoint(ec);
        sockets.push_back({listener_key(l), l.name, acceptor.release(ec)});
    }
    for (std::size_t i = 0; i < n; ++i) per_worker[i] = sockets[i];
    bound = {listener_key(l), endpoint};
    proxy_log().info("listener {} ({}) on {} with {} worker{}", l.name, config::to_string(l.protocol),
                     endpoint_text(endpoint), n, n == 1 ? "" : "s");
    return true;
}

bool Server::start(std::shared_ptr<const Snapshot> snapshot) {
    const auto& c = snapshot->config;
    const unsigned n = worker_count(c);
    metrics_.set_workers(n);
    for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(i, metrics_));

    // OCSP responses first: a must-staple certificate without one must not be served.
    stapler_ = std::make_unique<Stapler>(control_);
    if (!stapler_->prefetch(snapshot)) return false;
    stapler_->follow(snapshot);
    asio::co_spawn(control_, stapler_->run(), [](std::exception_ptr e) {
        if (e) proxy_log().error("OCSP stapling stopped by an unexpected exception");
    });

    std::vector<std::vector<ListenerSocket>> opened(n);
    for (const auto& plan : snapshot->plans) {
        const auto& l = *plan.listener;
        std::vector<ListenerSocket> per_worker(n);
        Bound bound;
        if (!bind_listener(l, per_worker, bound)) return false;
        for (unsigned i = 0; i < n; ++i) opened[i].push_back(per_worker[i]);
        std::lock_guard lock(bound_mutex_);
        bound_[l.name] = bound;
    }
    if (c.metrics.enabled) {
        auto acceptor = std::make_unique<tcp::acceptor>(control_);
        auto ec = open_and_bind(*acceptor, bind_endpoint(c.metrics.bind), false);
        if (!ec) acceptor->listen(64, ec);
        if (ec) {
            proxy_log().error("metrics: cannot listen on {}: {}", c.metrics.bind.to_string(), ec.message());
            return false;
        }
        {
            std::lock_guard lock(bound_mutex_);
            metrics_bound_ = acceptor->local_endpoint(ec);
        }
        proxy_log().info("metrics on http://{}/metrics", endpoint_text(*metrics_bound_));
        asio::co_spawn(control_, serve_metrics(std::move(*acceptor)), [](std::exception_ptr e) {
            if (e) proxy_log().error("metrics endpoint stopped by an unexpected exception");
        });
    }
    asio::co_spawn(control_, watch_expiry(), [](std::exception_ptr e) {
        if (e) proxy_log().error("the certificate expiry watch stopped by an unexpected exception");
    });
    {
        std::lock_guard lock(bound_mutex_);
        snapshot_ = snapshot;
    }
    last_reload_ = {true, snapshot->generation, {}, "configuration loaded at start", std::chrono::system_clock::now()};
    if (c.admin.enabled && !start_admin(c)) return false;
    if (c.cluster.enabled && !start_cluster(snapshot)) return false;
    if (!c.user.empty() && !drop_privileges(c.user)) return false;

    for (unsigned i = 0; i < n; ++i) {
        workers_[i]->apply(snapshot, std::move(opened[i]), {});
        workers_[i]->start();
    }
    proxy_log().info("ward started: {} mode, {} listener{}, {} worker{}", config::to_string(c.security.mode),
                     c.listeners.size(), c.listeners.size() == 1 ? "" : "s", n, n == 1 ? "" : "s");
    return true;
}

bool Server::start_admin(const config::Config& c) {
    const auto factory = admin_plane_factory();
    if (!factory) {
        proxy_log().error("admin: the admin API is not served by this build");
        return false;
    }
    auto plane = factory(*this, control_);
    if (!plane) {
        proxy_log().error("admin: {}", plane.error());
        return false;
    }
    admin_ = std::move(*plane);
    auto acceptor = std::make_unique<tcp::acceptor>(control_);
    auto ec = open_and_bind(*acceptor, bind_endpoint(c.admin.bind), false);
    if (!ec) acceptor->listen(64, ec);
    if (ec) {
        proxy_log().error("admin: cannot listen on {}: {}", c.admin.bind.to_string(), ec.message());
        return false;
    }
    {
        std::lock_guard lock(bound_mutex_);
        admin_bound_ = acceptor->local_endpoint(ec);
    }
    admin_acceptor_ = std::move(acceptor);
    proxy_log().info("admin API on https://{}/", endpoint_text(*admin_bound_));
    asio::co_spawn(control_, serve_admin(), [](std::exception_ptr e) {
        if (e) proxy_log().error("admin API stopped by an unexpected exception");
    });
    return true;
}

awaitable<void> Server::serve_admin() {
    for (;;) {
        tcp::endpoint peer;
        auto [ec, socket] = co_await admin_acceptor_->async_accept(peer, use_tuple);
        if (ec == asio::error::operation_aborted || !admin_acceptor_->is_open()) co_return;
        if (ec) {
            co_await pause_after_accept_error(control_, ec);
            continue;
        }
        asio::co_spawn(control_, admin_->serve(std::move(socket), peer), [](std::exception_ptr e) {
            if (e) proxy_log().error("admin connection ended by an unexpected exception: {}", exception_text(e));
        });
    }
}

std::shared_ptr<const Snapshot> Server::current() const {
    std::lock_guard lock(bound_mutex_);
    return snapshot_;
}

std::vector<ListenerStatus> Server::listeners() const {
    std::vector<ListenerStatus> out;
    auto snapshot = current();
    if (!snapshot) return out;
    std::map<std::string, Bound> bound;
    {
        std::lock_guard lock(bound_mutex_);
        bound = bound_;
    }
    for (const auto& plan : snapshot->plans) {
        const auto& l = *plan.listener;
        ListenerStatus s;
        s.name = l.name;
        s.protocol = std::string(config::to_string(l.protocol));
        s.tls_context = l.tls_context;
        if (auto it = bound.find(l.name); it != bound.end()) s.bind = endpoint_text(it->second.endpoint);
        auto m = const_cast<Metrics&>(metrics_).listener(l.name, s.protocol);
        s.active = m->active.load(std::memory_order_relaxed);
        s.accepted = m->accepted.load(std::memory_order_relaxed);
        s.handshakes = m->handshakes_ok.load(std::memory_order_relaxed);
        for (const auto& f : m->handshakes_failed) s.handshake_failures += f.load(std::memory_order_relaxed);
        s.refusals = m->handshakes_failed[static_cast<std::size_t>(HandshakeFailure::peer_refused)].load() +
                     m->refused_listener_limit.load() + m->refused_global_limit.load();
        out.push_back(std::move(s));
    }
    return out;
}

bool Server::ready() const {
    auto snapshot = current();
    if (!snapshot || stopping_) return false;
    std::lock_guard lock(bound_mutex_);
    for (const auto& plan : snapshot->plans)
        if (!bound_.count(plan.listener->name)) return false;
    return true;
}

bool Server::drop_privileges(const std::string& user) {
    if (::geteuid() != 0) {
        proxy_log().warn("user: {} is set but ward is not running as root; staying as uid {}", user, ::geteuid());
        return true;
    }
    const passwd* pw = ::getpwnam(user.c_str());
    if (!pw) {
        proxy_log().error("user: no such user '{}'", user);
        return false;
    }
    if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
        proxy_log().error("user: cannot switch to '{}': {}", user, std::strerror(errno));
        return false;
    }
    proxy_log().info("dropped privileges to {} (uid {}, gid {})", user, pw->pw_uid, pw->pw_gid);
    return true;
}

void Server::handle_signals() {
    if (signals_) return;
    signals_ = std::make_unique<asio::signal_set>(control_, SIGHUP, SIGTERM, SIGINT);
    wait_for_signal();
}

void Server::wait_for_signal() {
    signals_->async_wait([this](const error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) reload();
        else begin_stop();
        if (!stopping_) wait_for_signal();
    });
}

int Server::run(bool handle_signals) {
    if (handle_signals) this->handle_signals();
    if (snapshot_) {
        const auto& c = snapshot_->config;
        notifier_.ready("serving " + std::to_string(c.listeners.size()) + " listener" +
                        (c.listeners.size() == 1 ? "" : "s") + ", configuration generation " +
                        std::to_string(snapshot_->generation));
    }
    {
        auto guard = asio::make_work_guard(control_);
        control_.run();
    }
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    return exit_status_;
}

void Server::request_reload() {
    asio::post(control_, [this] { reload(); });
}

void Server::request_stop() {
    asio::post(control_, [this] { begin_stop(); });
}

std::optional<tcp::endpoint> Server::bound_endpoint(const std::string& listener) const {
    std::lock_guard lock(bound_mutex_);
    auto it = bound_.find(listener);
    if (it == bound_.end()) return std::nullopt;
    return it->second.endpoint;
}

std::optional<tcp::endpoint> Server::admin_endpoint() const {
    std::lock_guard lock(bound_mutex_);
    return admin_bound_;
}

std::optional<tcp::endpoint> Server::metrics_endpoint() const {
    std::lock_guard lock(bound_mutex_);
    return metrics_bound_;
}

std::uint64_t Server::generation() const {
    std::lock_guard lock(bound_mutex_);
    return snapshot_ ? snapshot_->generation : 0;
}

ReloadOutcome Server::reload(const std::string& reopen) {
    ReloadOutcome outcome;
    outcome.when = std::chrono::system_clock::now();
    outcome.generation = snapshot_ ? snapshot_->generation : 0;
    if (stopping_) {
        outcome.message = "not reloaded: ward is stopping";
        return outcome;
    }
    proxy_log().info("reloading {}", config_file_.string());
    notifier_.reloading("reloading " + config_file_.string());
    config::Diagnostics diagnostics(config_file_.string());
    auto next = build_snapshot(config_file_, diagnostics, snapshot_.get());
    for (const auto& d : diagnostics.all()) {
        if (d.severity == config::Severity::error) proxy_log().error("reload: {}", config::format(d));
        else proxy_log().warn("reload: {}", config::format(d));
    }
    outcome.diagnostics = diagnostics.all();
    if (next && !reopen.empty() && !next->find_listener(reopen)) {
        outcome.message = "no listener named '" + reopen + "' in the configuration";
        notifier_.ready(outcome.message + "; nothing changed");
        last_reload_ = outcome;
        return outcome;
    }
    if (next) {
        const auto& was = snapshot_->config.admin;
        const auto& now = next->config.admin;
        if (was.enabled != now.enabled || was.bind != now.bind || was.users_file != now.users_file ||
            was.audit_file != now.audit_file)
            proxy_log().warn("reload: admin.enabled, bind, users_file and audit_file change only on restart");
    }
    if (next && stapler_ && !stapler_->prefetch(next)) {
        proxy_log().error("reload: a must-staple certificate has no OCSP response (see above)");
        next = nullptr;
    }
    if (!next) {
        proxy_log().error("reload failed; the running configuration (generation {}) stays in force",
                          snapshot_->generation);
        outcome.message = "reload failed; generation " + std::to_string(snapshot_->generation) + " stays in force";
        notifier_.ready(outcome.message);
        last_reload_ = outcome;
        if (reload_observer_) reload_observer_(false);
        return outcome;
    }
    // Listeners: keep those whose key is unchanged, close the removed, bind the new.
    const auto n = workers_.size();
    std::vector<std::vector<ListenerSocket>> opened(n);
    std::vector<std::string> closed;
    std::map<std::string, Bound> bound;
    {
        std::lock_guard lock(bound_mutex_);
        bound = bound_;
    }
    std::map<std::string, Bound> next_bound;
    for (const auto& plan : next->plans) {
        const auto& l = *plan.listener;
        auto it = bound.find(l.name);
        if (it != bound.end() && it->second.key == listener_key(l) && l.name != reopen) {
            next_bound[l.name] = it->second;
            continue;
        }
        std::vector<ListenerSocket> per_worker(n);
        Bound b;
        if (!bind_listener(l, per_worker, b)) {
            proxy_log().error("reload: listener {} could not be opened; it stays closed", l.name);
            continue;
        }
        for (std::size_t i = 0; i < n; ++i) opened[i].push_back(per_worker[i]);
        next_bound[l.name] = b;
    }
    for (const auto& [name, b] : bound) {
        auto it = next_bound.find(name);
        if (it == next_bound.end() || it->second.key != b.key || name == reopen) {
            closed.push_back(b.key);
            proxy_log().info("listener {} closed", name);
        }
    }
    {
        std::lock_guard lock(bound_mutex_);
        bound_ = std::move(next_bound);
        snapshot_ = next;
    }
    if (stapler_) stapler_->follow(next);
    if (cluster_) cluster_->follow(next);
    else if (next->config.cluster.enabled) start_cluster(next);
    set_log_level(next->config.logging.level);
    // Done when every worker has switched: then new connections get the new snapshot.
    auto pending = std::make_shared<std::atomic<std::size_t>>(n);
    auto generation = next->generation;
    for (std::size_t i = 0; i < n; ++i) {
        workers_[i]->apply(next, std::move(opened[i]), closed, [this, pending, generation] {
            if (pending->fetch_sub(1) != 1) return;
            asio::post(control_, [this, generation] {
                proxy_log().info("reloaded: configuration generation {} in force for new connections", generation);
                notifier_.ready("configuration generation " + std::to_string(generation) + " in force");
                if (reload_observer_) reload_observer_(true);
            });
        });
    }
    outcome.applied = true;
    outcome.generation = generation;
    outcome.message = "generation " + std::to_string(generation) + " in force for new connections" +
                      (reopen.empty() ? "" : "; listener " + reopen + " re-opened") +
                      "; established sessions keep the configuration they started with";
    last_reload_ = outcome;
    return outcome;
}

void Server::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    proxy_log().info("stopping: no new connections; draining for up to {}ms",
                     snapshot_ ? snapshot_->config.limits.drain_timeout.count() : 0);
    notifier_.stopping("draining established sessions");
    for (auto& w : workers_) w->stop_accepting();
    if (stapler_) stapler_->stop();
    if (cluster_) cluster_->stop();
    if (metrics_acceptor_) metrics_acceptor_->close();
    if (admin_acceptor_) {
        error_code ec;
        admin_acceptor_->close(ec);
    }
    if (signals_) signals_->cancel();
    asio::co_spawn(control_, drain(), [this](std::exception_ptr e) {
        if (e) proxy_log().error("drain ended by an unexpected exception; stopping now");
        if (e) control_.stop();
    });
}

awaitable<void> Server::drain() {
    const auto limit = snapshot_ ? snapshot_->config.limits.drain_timeout : std::chrono::milliseconds(0);
    const auto until = std::chrono::steady_clock::now() + limit;
    asio::steady_timer tick(control_);
    auto active = [&] {
        std::int64_t total = 0;
        for (auto& w : workers_) total += w->sessions();
        return total;
    };
    // Polls the workers' session counts (a relaxed read each) until they are done or time is up.
    while (active() > 0 && std::chrono::steady_clock::now() < until) {
        tick.expires_after(std::chrono::milliseconds(20));
        co_await tick.async_wait(use_tuple);
    }
    if (const auto left = active(); left > 0) {
        proxy_log().info("drain timeout: closing {} session{}", left, left == 1 ? "" : "s");
        for (auto& w : workers_) w->abort_sessions();
        const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (active() > 0 && std::chrono::steady_clock::now() < grace) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(use_tuple);
        }
    }
    proxy_log().info("stopped");
    control_.stop();
}

}  // namespace ward::proxy
