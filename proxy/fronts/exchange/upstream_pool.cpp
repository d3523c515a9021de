// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/exchange/upstream_pool.hpp"

#include <openssl/ssl.h>

#include <cerrno>

#include <sys/socket.h>

#include <list>
#include <map>
#include <mutex>
#include <string>

namespace ward::proxy::exchange_pool {

namespace {

struct Entry {
    const void* key = nullptr;
    std::shared_ptr<const Snapshot> snapshot;  // what the connection's SSL and the key belong to
    std::optional<Upstream> upstream;
    asio::steady_timer timer;
    bool pooled = true;
    explicit Entry(asio::any_io_executor executor) : timer(std::move(executor)) {}
};

// Weak: an entry is owned by its pending waits alone, so it goes with its io_context (a worker
// stopping) whatever the order in which the thread and the io_context end.
using Pool = std::list<std::weak_ptr<Entry>>;

Pool& pool() {
    thread_local Pool entries;  // one worker thread: one io_context, no locks
    return entries;
}

void forget(const Entry* e) {
    pool().remove_if([e](const std::weak_ptr<Entry>& w) {
        auto p = w.lock();
        return !p || p.get() == e;
    });
}

// Out of the pool (idle time over, or the server closed or spoke): closed.
void evict(const std::shared_ptr<Entry>& e) {
    if (!e->pooled) return;
    e->pooled = false;
    forget(e.get());
    e->timer.cancel();
    if (e->upstream) e->upstream->connection.close();
    e->upstream.reset();
    e->snapshot.reset();
}

}  // namespace

std::optional<Upstream> take(const void* key) {
    auto& entries = pool();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
        auto e = it->lock();
        if (!e || e->key != key) continue;
        entries.erase(it);
        e->pooled = false;
        e->timer.cancel();
        error_code ignored;
        e->upstream->connection.socket().cancel(ignored);  // the readiness watch
        auto out = std::move(e->upstream);
        e->upstream.reset();
        e->snapshot.reset();
        // The watch's completion may be queued still: look at the socket itself. Anything to
        // read (bytes, or the close) on an idle connection, and it is not used.
        char byte = 0;
        const auto n = ::recv(out->connection.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        const bool quiet = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (!quiet || out->connection.has_pending()) {
            out->connection.close();
            return take(key);
        }
        return out;
    }
    return std::nullopt;
}

void put(const void* key, std::shared_ptr<const Snapshot> snapshot, Upstream upstream, std::size_t capacity,
         std::chrono::milliseconds idle) {
    auto& entries = pool();
    std::size_t same = 0;
    for (const auto& w : entries)
        if (auto e = w.lock()) same += e->key == key;
    if (same >= capacity || !upstream.connection.is_open()) {
        upstream.connection.close();
        return;
    }
    auto e = std::make_shared<Entry>(upstream.connection.socket().get_executor());
    e->key = key;
    e->snapshot = std::move(snapshot);
    e->upstream.emplace(std::move(upstream));
    entries.push_back(e);
    e->timer.expires_after(idle);
    e->timer.async_wait([e](const error_code& ec) {
        if (!ec) evict(e);
    });
    e->upstream->connection.socket().async_wait(tcp::socket::wait_read, [e](const error_code& ec) {
        if (ec != asio::error::operation_aborted) evict(e);
    });
}

namespace {

std::mutex hold_mutex;
std::map<std::string, std::chrono::steady_clock::time_point> held;  // by hold_mutex

}  // namespace

void hold_refusals(const std::string& key, std::chrono::steady_clock::time_point until) {
    std::lock_guard lock(hold_mutex);
    held[key] = until;
}

bool refusals_held(const std::string& key) {
    std::lock_guard lock(hold_mutex);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(held, [now](const auto& entry) { return entry.second <= now; });
    return held.count(key) != 0;
}

std::size_t idle_count() {
    std::size_t n = 0;
    for (const auto& w : pool()) n += !w.expired();
    return n;
}

}  // namespace ward::proxy::exchange_pool
