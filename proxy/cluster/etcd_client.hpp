// SPDX-License-Identifier: Apache-2.0
#pragma once
// A client of etcd's v3 API through its JSON gateway (HTTP/1.1, POST /v3/...), over ward's own
// connections: TCP, and TLS with a ward TLS context (etcd's CA as the trust store, this node's
// client certificate) for https endpoints. Every call has one deadline for the name lookup,
// connect, TLS, request and the whole answer; a call that cannot reach an endpoint tries the
// next, starting with the last that answered. A watch is a long HTTP answer of one JSON message
// per line; it is read with a deadline too, and the caller opens it again from the revision it
// reached.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/result.hpp"
#include "proxy/cluster/etcd_json.hpp"
#include "proxy/engine/asio.hpp"
#include "tls/context_builder.hpp"

namespace ward::cluster {

using proxy::awaitable;

struct EtcdOptions {
    std::vector<config::EtcdEndpoint> endpoints;
    std::shared_ptr<const tls::Context> tls;  // needed by https endpoints
    std::chrono::milliseconds timeout{5000};     // one call: lookup, connect, TLS, request, answer
    std::chrono::milliseconds watch_wait{5000};  // a watch's wait for its next message
    std::size_t max_answer = 4 * 1024 * 1024;  // an answer (or one watch message) past this is refused
};

class EtcdWatch;

class EtcdClient {
public:
    EtcdClient(proxy::asio::any_io_executor ex, EtcdOptions options);
    ~EtcdClient();
    EtcdClient(const EtcdClient&) = delete;
    EtcdClient& operator=(const EtcdClient&) = delete;

    awaitable<Result<std::int64_t>> grant_lease(std::chrono::seconds ttl);
    // The lease's TTL left after the refresh; 0 when the lease is gone (expired or revoked).
    awaitable<Result<std::int64_t>> keep_alive(std::int64_t lease);
    awaitable<Status> revoke_lease(std::int64_t lease);
    // What is left of a lease, in seconds, without refreshing it; 0 when it is gone.
    awaitable<Result<std::int64_t>> lease_time_to_live(std::int64_t lease);
    awaitable<Result<std::int64_t>> put(std::string key, std::string value, std::int64_t lease = 0);
    awaitable<Result<EtcdRange>> range(std::string key, bool prefix);
    awaitable<Result<std::int64_t>> remove(std::string key);
    // Puts `key` if its mod_revision is still `expected` (0: if it does not exist); when not,
    // `succeeded` is false and `range` holds what is there now.
    awaitable<Result<EtcdTxnResult>> put_if_revision(std::string key, std::string value, std::int64_t lease,
                                                     std::int64_t expected);
    // Watches every key under `prefix` from `start_revision` (0: from now).
    awaitable<Result<std::unique_ptr<EtcdWatch>>> watch(std::string prefix, std::int64_t start_revision);

    // The endpoint that answered last, for logs and status ("" before any answer).
    std::string endpoint() const;

    struct Exchange;  // one HTTP exchange (etcd_client.cpp)

private:
    friend class EtcdWatch;
    // POSTs `body` to `path` on the first endpoint that answers; the answer's body.
    awaitable<Result<std::string>> call(std::string path, std::string body);
    template <class T, class Read>
    awaitable<T> answered(std::string path, std::string body, Read read);

    proxy::asio::any_io_executor ex_;
    EtcdOptions options_;
    std::size_t current_ = 0;
    bool answered_ = false;
};

class EtcdWatch {
public:
    ~EtcdWatch();
    // The next message, waiting at most the client's timeout; an error ends the watch (the
    // connection was lost, the wait passed, or etcd canceled it). A message with
    // compact_revision set also ends it: the start revision is gone, read the keys again.
    awaitable<Result<EtcdWatchMessage>> next();
    void close();

private:
    friend class EtcdClient;
    EtcdWatch() = default;
    std::unique_ptr<EtcdClient::Exchange> exchange_;
    std::size_t max_message_ = 0;
    std::chrono::milliseconds timeout_{0};
};

}  // namespace ward::cluster
