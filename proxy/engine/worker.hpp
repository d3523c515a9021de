// SPDX-License-Identifier: Apache-2.0
#pragma once
// A worker: one thread, one io_context, its own acceptor per listener (SO_REUSEPORT), its own
// buffer pool. A session never leaves its worker; nothing on the hot path takes a lock.
#include <atomic>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/buffer_pool.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/metrics.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::proxy {

class Session;

// A bound, listening socket made on the control thread, for one worker to adopt.
struct ListenerSocket {
    std::string key;  // name|protocol|bind: a changed bind or protocol is a new listener
    std::string name;
    int fd = -1;
};

class Worker {
public:
    Worker(unsigned id, Metrics& metrics);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    unsigned id() const { return id_; }
    asio::io_context& io() { return io_; }
    BufferPool& pool() { return pool_; }
    RateLimiter& refusal_limiter() { return refusal_limiter_; }
    std::atomic<std::int64_t>& global_active() { return metrics_.global_active(); }
    std::int64_t sessions() const { return session_count_.load(std::memory_order_relaxed); }
    // A session is over (its coroutine ended, or the relay it handed itself to): it leaves the
    // worker's live sessions and count. Once per session.
    void session_ended(std::uint64_t id);
    // The snapshot new connections get now (on the worker's thread only): a session that must
    // follow a reload (xmpp-web's secure mode) looks here.
    const Snapshot* current_snapshot() const { return snapshot_.get(); }
    std::shared_ptr<const Snapshot> current_snapshot_ptr() const { return snapshot_; }

    // The address a listener's acceptor on this worker is bound to (the port the system gave for
    // port 0), or nullopt when it has none; on the worker's thread only.
    std::optional<tcp::endpoint> local_endpoint(const std::string& listener) const;

    void start();
    void join();

    // From the control thread: use `snapshot` for new connections, adopt `opened`, close the
    // acceptors whose keys are in `closed`. Runs on the worker's thread.
    // `applied` runs on the worker's thread once it took effect.
    void apply(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> opened,
               std::vector<std::string> closed, std::function<void()> applied = {});
    // Stop accepting; established sessions go on.
    void stop_accepting();
    // Close every session now.
    void abort_sessions();
    void stop();

private:
    struct Acceptor {
        std::string name;
        tcp::acceptor acceptor;
        std::shared_ptr<ListenerMetrics> metrics;
    };

    awaitable<void> accept_loop(std::shared_ptr<Acceptor> acceptor);
    // False when the connection was refused because the listener (or ward) is full: the
    // accept loop then leaves new connections in the kernel's queue for a moment.
    bool spawn_session(std::shared_ptr<Acceptor> acceptor, tcp::socket socket, const tcp::endpoint& peer);

    // Declared before io_, so destroyed after it: a session's coroutine frame that is still
    // pending when the worker goes (a write that outlived the drain grace) is destroyed with
    // io_, and hands its buffer back to a pool that still exists.
    unsigned id_;
    Metrics& metrics_;
    BufferPool pool_;
    RateLimiter refusal_limiter_;
    std::shared_ptr<const Snapshot> snapshot_;  // only touched on this worker's thread
    std::unordered_map<std::uint64_t, std::weak_ptr<Session>> live_;
    std::atomic<std::int64_t> session_count_{0};
    std::uint64_t next_session_ = 0;
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
    // After io_, so destroyed before it: acceptors are I/O objects of io_.
    std::map<std::string, std::shared_ptr<Acceptor>> acceptors_;
};

}  // namespace ward::proxy
