// SPDX-License-Identifier: Apache-2.0
#pragma once
// The running proxy: binds listeners (then drops privileges), runs the workers, serves metrics,
// reloads on SIGHUP, drains on SIGTERM/SIGINT. The control thread (the one calling run()) is
// the only one that builds snapshots; workers receive them by message.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/control.hpp"
#include "proxy/engine/metrics.hpp"
#include "proxy/engine/service_notifier.hpp"
#include "proxy/engine/snapshot.hpp"
#include "proxy/engine/stapler.hpp"
#include "proxy/engine/worker.hpp"

namespace ward::proxy {

// After a failing accept on the control thread: a short pause (none when the peer just left).
awaitable<void> pause_after_accept_error(asio::io_context& io, error_code ec);

// The ward_certificate_expiry_timestamp_seconds family for the metrics endpoint.
std::string certificate_expiry_text(const std::vector<tls::CertificateExpiry>& expiries);

// The ward_cluster_* families for the metrics endpoint.
std::string cluster_metrics_text(const ClusterView& cluster);

class Server final : public Control {
public:
    explicit Server(std::filesystem::path config_file);
    ~Server();

    // Binds every listener and the metrics endpoint with `snapshot`, drops privileges and
    // starts the workers. False (with the reason logged) when it cannot.
    bool start(std::shared_ptr<const Snapshot> snapshot);
    // SIGHUP reloads, SIGTERM and SIGINT stop: handled by the control loop from now on. Call it
    // before the signals are unblocked, so that none arrives with its default action (a SIGHUP
    // just after start would end the process).
    void handle_signals();
    // Runs the control loop until stopped (telling the service manager it is ready first);
    // returns the exit status. `handle_signals`: install the handlers if not done yet.
    int run(bool handle_signals = true);

    // Thread-safe requests (tests use them instead of signals).
    void request_reload();
    void request_stop();

    // The address a listener (or the metrics endpoint) is bound to; for port 0 binds.
    std::optional<tcp::endpoint> bound_endpoint(const std::string& listener) const;
    std::optional<tcp::endpoint> metrics_endpoint() const;
    std::optional<tcp::endpoint> admin_endpoint() const;
    std::uint64_t generation() const;
    // Called on the control thread after each reload attempt, with whether it took effect. Set
    // it before run().
    void set_reload_observer(std::function<void(bool applied)> observer) { reload_observer_ = std::move(observer); }
    Metrics& metrics() { return metrics_; }

    // Control (the admin plane's view; control thread only, except current()).
    std::shared_ptr<const Snapshot> current() const override;
    ReloadOutcome reload(const std::string& reopen = {}) override;
    const ReloadOutcome& last_reload() const override { return last_reload_; }
    std::vector<ListenerStatus> listeners() const override;
    bool ready() const override;
    std::optional<ClusterView> cluster() const override;  // server_cluster.cpp

private:
    struct Bound {
        std::string key;
        tcp::endpoint endpoint;
    };

    bool bind_listener(const config::Listener& l, std::vector<ListenerSocket>& per_worker, Bound& bound);
    bool start_admin(const config::Config& c);
    bool start_cluster(std::shared_ptr<const Snapshot> snapshot);  // server_cluster.cpp
    awaitable<void> serve_admin();
    void begin_stop();
    awaitable<void> drain();
    awaitable<void> serve_metrics(tcp::acceptor acceptor);
    awaitable<void> metrics_request(tcp::socket socket);
    // What GET /metrics answers: the counters and the certificates' expiry.
    std::string metrics_text() const;
    // Logs presented certificates within 14 days of expiry (or past it), now and once a day.
    awaitable<void> watch_expiry();
    void log_expiring() const;
    bool drop_privileges(const std::string& user);

    std::filesystem::path config_file_;
    // Before control_, so destroyed after it: admin connections still pending at the end are
    // coroutine frames of control_, and they use the plane while they are destroyed.
    std::unique_ptr<AdminPlane> admin_;
    std::unique_ptr<ClusterMember> cluster_;  // (likewise: its loops are coroutines of control_)
    asio::io_context control_{1};
    // After control_, so destroyed before it: its timer belongs to control_.
    std::unique_ptr<Stapler> stapler_;
    std::unique_ptr<asio::signal_set> signals_;
    void wait_for_signal();
    Metrics metrics_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::shared_ptr<const Snapshot> snapshot_;
    mutable std::mutex bound_mutex_;  // guards bound_ and metrics_bound_ for tests reading them
    std::map<std::string, Bound> bound_;  // listener name -> key and address
    std::optional<tcp::endpoint> metrics_bound_;
    std::unique_ptr<tcp::acceptor> metrics_acceptor_;
    std::optional<tcp::endpoint> admin_bound_;
    std::unique_ptr<tcp::acceptor> admin_acceptor_;
    ReloadOutcome last_reload_;
    std::function<void(bool)> reload_observer_;
    ServiceNotifier notifier_;  // systemd's NOTIFY_SOCKET, when ward runs under it
    bool stopping_ = false;
    int exit_status_ = 0;
};

// Listener identity across reloads: a changed bind or protocol makes a new listener.
std::string listener_key(const config::Listener& l);

}  // namespace ward::proxy
