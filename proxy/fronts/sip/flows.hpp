// SPDX-License-Identifier: Apache-2.0
#pragma once
// The flows of SIP edge routing (sip/edge.hpp): every inbound sip connection of a listener with
// sip.return_bind is a Flow the backend can reach back through; every connection the backend
// opens to the return listener is a ReturnLink. Each lives on its session's worker and is only
// touched there; the process-wide table finds one by id from any worker, and messages cross
// workers by posting to the owner's io_context. A request from the backend is remembered by its
// top Via branch in the flow it went to, so that the peer's responses go back on the same
// return connection (RFC 3261 section 18.2.2), for as long as the transaction can last.
//
// Bounds: each side queues at most `queue_limit` bytes for a connection that does not read
// (requests beyond it are answered 503), and a flow remembers at most kMaxPending transactions.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/metrics.hpp"
#include "sip/edge.hpp"

namespace ward::proxy {

class Session;
class Connection;

// Messages for one connection, written in order by one coroutine on its worker.
class Outbox : public std::enable_shared_from_this<Outbox> {
public:
    Outbox(std::shared_ptr<Session> session, Connection& connection, std::size_t limit);
    // On the owner's worker. False when the bytes already queued are over the limit, or the
    // connection is gone.
    bool push(std::string message);
    void close();
    bool closed() const { return closed_; }
    std::size_t limit() const { return limit_; }
    std::size_t queued() const { return queued_; }
    // Backpressure for the reader of the other direction: returns once at most `bytes` are
    // queued, or the outbox closed.
    awaitable<void> wait_below(std::size_t bytes);

private:
    static awaitable<void> run(std::shared_ptr<Outbox> self);
    awaitable<void> drain();
    std::weak_ptr<Session> session_;
    Connection& connection_;
    std::size_t limit_;
    std::deque<std::string> queue_;
    std::size_t queued_ = 0;
    bool draining_ = false;
    bool closed_ = false;
    std::unique_ptr<asio::steady_timer> progress_;  // wait_below's wake-up, cancelled as the queue drains
};

struct ReturnLink {
    const std::uint64_t id;
    asio::io_context& io;
    const std::shared_ptr<Outbox> outbox;  // to the backend, on io
    const std::shared_ptr<ListenerMetrics> metrics;
    // Bytes of requests posted to flows on other workers and not yet taken there: the return
    // connection answers 503 itself above its limit, so a flooding backend cannot queue more.
    std::atomic<std::size_t> in_flight{0};
};

class Flow {
public:
    static constexpr std::size_t kMaxPending = 256;
    static constexpr std::size_t kMaxBranch = 256;  // longer Via branches are not remembered
    Flow(std::uint64_t flow_id, asio::io_context& owner, sip::FlowEnds flow_ends, std::shared_ptr<Outbox> outbox,
         std::shared_ptr<ListenerMetrics> metrics);
    ~Flow();
    const std::uint64_t id;
    asio::io_context& io;
    const sip::FlowEnds ends;  // immutable: read from any worker

    // On io: a request from the backend (edited, complete) for the peer, from `link`. When
    // the flow is closed or the peer is not reading, `link` gets 430 / 503 instead.
    void deliver(std::string message, const std::shared_ptr<ReturnLink>& link);
    // On io: the return connection that a peer's response with this top Via branch goes to
    // (nullptr: none, it answers a request of the session's own backend connection).
    std::shared_ptr<ReturnLink> response_target(std::string_view branch, bool final_response);
    void close();

private:
    struct Pending {
        std::weak_ptr<ReturnLink> link;
        std::chrono::steady_clock::time_point until;
    };
    void forget_expired(std::chrono::steady_clock::time_point now);
    std::shared_ptr<Outbox> outbox_;  // to the peer
    std::shared_ptr<ListenerMetrics> metrics_;
    std::unordered_map<std::string, Pending> pending_;
    bool closed_ = false;
};

// Objects of one kind by id, for any worker to find (weak: the owner's session keeps them).
template <class T>
class Registry {
public:
    void add(std::uint64_t id, const std::shared_ptr<T>& object) {
        std::lock_guard lock(mutex_);
        objects_[id] = object;
    }
    void remove(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        objects_.erase(id);
    }
    std::shared_ptr<T> find(std::uint64_t id) const {
        std::lock_guard lock(mutex_);
        auto it = objects_.find(id);
        return it == objects_.end() ? nullptr : it->second.lock();
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, std::weak_ptr<T>> objects_;
};

class FlowTable {
public:
    static FlowTable& instance();
    std::uint64_t next_id() { return next_.fetch_add(1, std::memory_order_relaxed); }
    Registry<Flow> flows;
    Registry<ReturnLink> links;

private:
    std::atomic<std::uint64_t> next_{1};  // 0 is "no flow" (HeadPlan::divert)
};

// Sends `message` to `link` from any worker.
void post_to_link(const std::shared_ptr<ReturnLink>& link, std::string message);

}  // namespace ward::proxy
