// SPDX-License-Identifier: Apache-2.0
#pragma once
// Counters per listener, served as Prometheus text. Per-connection events are relaxed atomics
// shared by all workers; what every relayed chunk moves is kept per worker (RelayCounters) and
// added up when /metrics is read.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/engine/source_limiter.hpp"

namespace ward::proxy {

// One worker's byte counters for one listener, on a cache line of their own. Only that worker
// writes them (a relaxed load and store: no locked instruction, no line bouncing between
// cores); the metrics reader loads them.
struct alignas(64) RelayCounters {
    std::atomic<std::uint64_t> bytes_from_client{0};
    std::atomic<std::uint64_t> bytes_to_client{0};

    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

enum class HandshakeFailure { timeout, peer_refused, tls_error, closed, count_ };

// xmpp-web listeners: what happened to requests, and why ward answered one itself.
enum class WebEvent { request, upgrade, bosh_session, count_ };
enum class WebRefusal {
    plain_http,   // plain HTTP on an HTTPS-only port (a TLS alert)
    bad_request,  // malformed, smuggling, bad BOSH payload
    too_large,    // 413, 431
    not_found,
    method,
    host,
    origin,
    upgrade,      // an invalid WebSocket upgrade
    timeout,      // 408, 504
    backend,      // 502: no backend, or a broken answer
    framing,      // a WebSocket message refused (RFC 6455 / RFC 7395)
    count_
};
const char* web_event_name(WebEvent e);
const char* web_refusal_name(WebRefusal r);

// exchange-egress listeners: requests forwarded, authentications by method, their failures,
// and what went wrong with Exchange itself.
enum class ExchangeCount {
    request,             // a request answered by Exchange
    auth_ntlmv2,         // a connection authenticated with NTLMv2
    auth_basic,          // a connection that used Basic
    ntlm_unusable,       // failure: NTLM offered but not usable for NTLMv2 (a v1-only CHALLENGE)
    ntlm_refused,        // failure: Exchange refused the NTLMv2 AUTHENTICATE
    basic_refused,       // failure: Exchange refused Basic (the 401 went to the client)
    upstream_connect,    // error: no Exchange server accepted the connection
    upstream_tls,        // error: the TLS handshake or the server's certificate failed
    upstream_timeout,    // error: Exchange did not answer in time
    upstream_protocol,   // error: Exchange's answer was not valid HTTP, or it closed inside it
    count_
};
const char* exchange_count_name(ExchangeCount c);

// SIP edge routing (sip listeners and their return listeners): requests and responses routed
// between the backend and peers' flows, and why one could not be.
enum class SipRouting {
    request_to_peer,      // a request from the backend delivered into a peer's flow
    response_to_backend,  // a peer's response sent back on the return connection its request came on
    count_
};
enum class SipFlowFailure {
    closed,         // 430: the flow the token names is closed
    refused,        // 403: no flow token, or a bad or expired one
    hops,           // 483: Max-Forwards reached 0
    malformed,      // 400: a Route, Path or Max-Forwards ward could not read
    congested,      // 503: the peer is not reading what ward already queued for it
    response_lost,  // a peer's response the return connection could not take (closed, or not reading)
    count_
};
const char* sip_routing_name(SipRouting r);
const char* sip_flow_failure_name(SipFlowFailure f);

struct ListenerMetrics {
    std::string name;
    std::string protocol;
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> refused_listener_limit{0};
    std::atomic<std::uint64_t> refused_global_limit{0};
    std::atomic<std::uint64_t> refused_handshakes_in_flight{0};  // max_handshakes_in_flight
    std::atomic<std::uint64_t> refused_source_connections{0};    // per_source.connections
    std::atomic<std::uint64_t> refused_source_rate{0};           // per_source.handshakes_per_second
    std::atomic<std::int64_t> handshakes_in_flight{0};
    SourceLimiter sources;  // per source address, shared by the workers (limits.per_source)
    // Counts a per-source refusal by its reason; false when `verdict` admits.
    bool refused_by_source(SourceLimiter::Verdict verdict) {
        if (verdict == SourceLimiter::Verdict::too_many_connections)
            refused_source_connections.fetch_add(1, std::memory_order_relaxed);
        else if (verdict == SourceLimiter::Verdict::too_fast)
            refused_source_rate.fetch_add(1, std::memory_order_relaxed);
        else
            return false;
        return true;
    }
    std::atomic<std::uint64_t> handshakes_ok{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(HandshakeFailure::count_)> handshakes_failed{};
    std::atomic<std::uint64_t> backend_failures{0};
    std::atomic<std::uint64_t> proxy_headers_refused{0};  // missing or malformed from a trusted load balancer
    std::atomic<std::int64_t> active{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(WebEvent::count_)> web_events{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(WebRefusal::count_)> web_refusals{};
    void count(WebEvent e) { web_events[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed); }
    void count(WebRefusal r) { web_refusals[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
    std::atomic<std::int64_t> sip_flows_open{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(SipRouting::count_)> sip_routed{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(SipFlowFailure::count_)> sip_failures{};
    void count(SipRouting r) { sip_routed[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
    void count(SipFlowFailure f) { sip_failures[static_cast<std::size_t>(f)].fetch_add(1, std::memory_order_relaxed); }
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(ExchangeCount::count_)> exchange{};
    void count(ExchangeCount c) { exchange[static_cast<std::size_t>(c)].fetch_add(1, std::memory_order_relaxed); }
    std::vector<RelayCounters> relay;  // one per worker, indexed by worker id

    explicit ListenerMetrics(std::size_t workers) : relay(workers) {}
    RelayCounters& relay_of(unsigned worker) { return relay[worker]; }
    // One relay counter added up over the workers.
    std::uint64_t total(std::atomic<std::uint64_t> RelayCounters::*counter) const;

    // Handshake duration histogram (seconds, Prometheus cumulative buckets).
    static constexpr std::array<double, 12> kBuckets{0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,  0.5,   1.0,  2.5,   10.0};
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> handshake_buckets{};
    std::atomic<std::uint64_t> handshake_micros{0};

    void observe_handshake(std::chrono::steady_clock::duration d);
};

class Metrics {
public:
    // `workers`: how many workers write relay counters (worker ids 0 .. workers-1).
    explicit Metrics(std::size_t workers = 1) : workers_(workers) {}
    void set_workers(std::size_t workers) { workers_ = workers; }
    // The counters of a listener, made on first use (listener set-up, not the hot path).
    std::shared_ptr<ListenerMetrics> listener(const std::string& name, const std::string& protocol);
    std::atomic<std::int64_t>& global_active() { return global_active_; }
    std::string prometheus_text() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<ListenerMetrics>> listeners_;
    std::atomic<std::int64_t> global_active_{0};
    std::size_t workers_;
};

}  // namespace ward::proxy
