// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace ward::proxy {

void ListenerMetrics::observe_handshake(std::chrono::steady_clock::duration d) {
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    handshake_buckets[i].fetch_add(1, std::memory_order_relaxed);
    handshake_micros.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::uint64_t ListenerMetrics::total(std::atomic<std::uint64_t> RelayCounters::*counter) const {
    std::uint64_t sum = 0;
    for (const auto& r : relay) sum += (r.*counter).load(std::memory_order_relaxed);
    return sum;
}

std::shared_ptr<ListenerMetrics> Metrics::listener(const std::string& name, const std::string& protocol) {
    std::lock_guard lock(mutex_);
    auto& m = listeners_[name];
    if (!m) {
        m = std::make_shared<ListenerMetrics>(workers_);
        m->name = name;
    }
    m->protocol = protocol;
    return m;
}

const char* sip_routing_name(SipRouting r) {
    switch (r) {
        case SipRouting::request_to_peer: return "request_to_peer";
        case SipRouting::response_to_backend: return "response_to_backend";
        case SipRouting::count_: break;
    }
    return "unknown";
}

const char* sip_flow_failure_name(SipFlowFailure f) {
    switch (f) {
        case SipFlowFailure::closed: return "closed";
        case SipFlowFailure::refused: return "refused";
        case SipFlowFailure::hops: return "hops";
        case SipFlowFailure::malformed: return "malformed";
        case SipFlowFailure::congested: return "congested";
        case SipFlowFailure::response_lost: return "response_lost";
        case SipFlowFailure::count_: break;
    }
    return "unknown";
}

const char* web_event_name(WebEvent e) {
    switch (e) {
        case WebEvent::request: return "request";
        case WebEvent::upgrade: return "upgrade";
        case WebEvent::bosh_session: return "bosh_session";
        case WebEvent::count_: break;
    }
    return "other";
}

const char* exchange_count_name(ExchangeCount c) {
    switch (c) {
        case ExchangeCount::request: return "request";
        case ExchangeCount::auth_ntlmv2: return "ntlmv2";
        case ExchangeCount::auth_basic: return "basic";
        case ExchangeCount::ntlm_unusable: return "ntlm_unusable";
        case ExchangeCount::ntlm_refused: return "ntlm_refused";
        case ExchangeCount::basic_refused: return "basic_refused";
        case ExchangeCount::upstream_connect: return "connect";
        case ExchangeCount::upstream_tls: return "tls";
        case ExchangeCount::upstream_timeout: return "timeout";
        case ExchangeCount::upstream_protocol: return "protocol";
        case ExchangeCount::count_: break;
    }
    return "?";
}

const char* web_refusal_name(WebRefusal r) {
    switch (r) {
        case WebRefusal::plain_http: return "plain_http";
        case WebRefusal::bad_request: return "bad_request";
        case WebRefusal::too_large: return "too_large";
        case WebRefusal::not_found: return "not_found";
        case WebRefusal::method: return "method";
        case WebRefusal::host: return "host";
        case WebRefusal::origin: return "origin";
        case WebRefusal::upgrade: return "upgrade";
        case WebRefusal::timeout: return "timeout";
        case WebRefusal::backend: return "backend";
        case WebRefusal::framing: return "framing";
        case WebRefusal::count_: break;
    }
    return "other";
}

namespace {

const char* failure_name(std::size_t i) {
    switch (static_cast<HandshakeFailure>(i)) {
        case HandshakeFailure::timeout: return "timeout";
        case HandshakeFailure::peer_refused: return "peer_refused";
        case HandshakeFailure::tls_error: return "tls_error";
        case HandshakeFailure::closed: return "closed";
        case HandshakeFailure::count_: break;
    }
    return "other";
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

std::string Metrics::prometheus_text() const {
    std::lock_guard lock(mutex_);
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto line = [&](const std::string& name, const ListenerMetrics& m, const std::string& extra, std::uint64_t v) {
        out += name + "{listener=\"" + m.name + "\",protocol=\"" + m.protocol + "\"" + extra + "} " +
               std::to_string(v) + "\n";
    };
    family("ward_connections_accepted_total", "counter", "Connections accepted.");
    for (auto& [n, m] : listeners_) line("ward_connections_accepted_total", *m, "", m->accepted.load());
    family("ward_connections_refused_total", "counter", "Connections closed at once, by reason.");
    for (auto& [n, m] : listeners_) {
        line("ward_connections_refused_total", *m, ",reason=\"listener_limit\"", m->refused_listener_limit.load());
        line("ward_connections_refused_total", *m, ",reason=\"global_limit\"", m->refused_global_limit.load());
        line("ward_connections_refused_total", *m, ",reason=\"handshakes_in_flight\"",
             m->refused_handshakes_in_flight.load());
        line("ward_connections_refused_total", *m, ",reason=\"source_connections\"",
             m->refused_source_connections.load());
        line("ward_connections_refused_total", *m, ",reason=\"source_rate\"", m->refused_source_rate.load());
    }
    family("ward_handshakes_total", "counter", "TLS handshakes, by result.");
    for (auto& [n, m] : listeners_) {
        line("ward_handshakes_total", *m, ",result=\"ok\"", m->handshakes_ok.load());
        for (std::size_t i = 0; i < m->handshakes_failed.size(); ++i)
            line("ward_handshakes_total", *m, std::string(",result=\"") + failure_name(i) + "\"",
                 m->handshakes_failed[i].load());
    }
    family("ward_backend_failures_total", "counter", "Sessions for which no backend accepted a connection.");
    for (auto& [n, m] : listeners_) line("ward_backend_failures_total", *m, "", m->backend_failures.load());
    family("ward_proxy_headers_refused_total", "counter",
           "Connections from a trusted load balancer closed for a missing or malformed PROXY v2 header.");
    for (auto& [n, m] : listeners_)
        line("ward_proxy_headers_refused_total", *m, "", m->proxy_headers_refused.load());
    family("ward_handshakes_in_flight", "gauge", "Connections accepted that have not finished negotiating.");
    for (auto& [n, m] : listeners_)
        line("ward_handshakes_in_flight", *m, "",
             static_cast<std::uint64_t>(std::max<std::int64_t>(0, m->handshakes_in_flight.load())));
    family("ward_source_addresses_untracked_total", "counter",
           "Connections admitted without per-source accounting because the address table was full.");
    for (auto& [n, m] : listeners_) line("ward_source_addresses_untracked_total", *m, "", m->sources.untracked());
    family("ward_sessions_active", "gauge", "Sessions open now.");
    for (auto& [n, m] : listeners_)
        line("ward_sessions_active", *m, "", static_cast<std::uint64_t>(std::max<std::int64_t>(0, m->active.load())));
    family("ward_bytes_total", "counter", "Bytes relayed, by direction.");
    for (auto& [n, m] : listeners_) {
        line("ward_bytes_total", *m, ",direction=\"from_client\"", m->total(&RelayCounters::bytes_from_client));
        line("ward_bytes_total", *m, ",direction=\"to_client\"", m->total(&RelayCounters::bytes_to_client));
    }
    family("ward_handshake_duration_seconds", "histogram", "TLS handshake duration.");
    for (auto& [n, m] : listeners_) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < m->handshake_buckets.size(); ++i) {
            cumulative += m->handshake_buckets[i].load();
            const std::string le = i < ListenerMetrics::kBuckets.size() ? number(ListenerMetrics::kBuckets[i]) : "+Inf";
            line("ward_handshake_duration_seconds_bucket", *m, ",le=\"" + le + "\"", cumulative);
        }
        out += "ward_handshake_duration_seconds_sum{listener=\"" + m->name + "\",protocol=\"" + m->protocol + "\"} " +
               number(static_cast<double>(m->handshake_micros.load()) / 1e6) + "\n";
        line("ward_handshake_duration_seconds_count", *m, "", cumulative);
    }
    bool web = false;
    for (auto& [n, m] : listeners_) web = web || m->protocol == "xmpp-web";
    if (web) {
        family("ward_web_events_total", "counter", "xmpp-web listeners: requests forwarded, WebSocket upgrades, BOSH sessions started.");
        for (auto& [n, m] : listeners_) {
            if (m->protocol != "xmpp-web") continue;
            for (std::size_t i = 0; i < m->web_events.size(); ++i)
                line("ward_web_events_total", *m,
                     std::string(",event=\"") + web_event_name(static_cast<WebEvent>(i)) + "\"", m->web_events[i].load());
        }
        family("ward_web_refusals_total", "counter", "xmpp-web listeners: requests and messages ward answered itself, by reason.");
        for (auto& [n, m] : listeners_) {
            if (m->protocol != "xmpp-web") continue;
            for (std::size_t i = 0; i < m->web_refusals.size(); ++i)
                line("ward_web_refusals_total", *m,
                     std::string(",reason=\"") + web_refusal_name(static_cast<WebRefusal>(i)) + "\"",
                     m->web_refusals[i].load());
        }
    }
    bool sip = false;
    for (auto& [n, m] : listeners_) sip = sip || m->protocol == "sip-return";
    if (sip) {
        const auto is_sip = [](const ListenerMetrics& m) { return m.protocol == "sip" || m.protocol == "sip-return"; };
        family("ward_sip_flows_open", "gauge", "sip listeners: peers' TLS connections the backend can reach back through ward.");
        for (auto& [n, m] : listeners_)
            if (m->protocol == "sip") line("ward_sip_flows_open", *m, "", static_cast<std::uint64_t>(std::max<std::int64_t>(0, m->sip_flows_open.load())));
        family("ward_sip_routed_total", "counter", "SIP edge routing: requests delivered into peers' flows, responses sent back to the backend.");
        for (auto& [n, m] : listeners_) {
            if (!is_sip(*m)) continue;
            for (std::size_t i = 0; i < m->sip_routed.size(); ++i)
                line("ward_sip_routed_total", *m,
                     std::string(",direction=\"") + sip_routing_name(static_cast<SipRouting>(i)) + "\"",
                     m->sip_routed[i].load());
        }
        family("ward_sip_flow_failures_total", "counter", "SIP edge routing: messages ward could not route, by reason.");
        for (auto& [n, m] : listeners_) {
            if (!is_sip(*m)) continue;
            for (std::size_t i = 0; i < m->sip_failures.size(); ++i)
                line("ward_sip_flow_failures_total", *m,
                     std::string(",reason=\"") + sip_flow_failure_name(static_cast<SipFlowFailure>(i)) + "\"",
                     m->sip_failures[i].load());
        }
    }
    bool exchange = false;
    for (auto& [n, m] : listeners_) exchange = exchange || m->protocol == "exchange-egress";
    if (exchange) {
        using C = ExchangeCount;
        struct Family {
            const char* name;
            const char* help;
            const char* label;
            C first, last;
        };
        static constexpr Family families[] = {
            {"ward_exchange_requests_total", "exchange-egress listeners: requests Exchange answered.", "", C::request, C::request},
            {"ward_exchange_auth_total", "exchange-egress listeners: Exchange connections authenticated, by method.",
             "method", C::auth_ntlmv2, C::auth_basic},
            {"ward_exchange_auth_failures_total",
             "exchange-egress listeners: authentications that failed (NTLM unusable or refused, Basic refused).", "reason",
             C::ntlm_unusable, C::basic_refused},
            {"ward_exchange_upstream_errors_total", "exchange-egress listeners: failures reaching Exchange, by kind.", "reason",
             C::upstream_connect, C::upstream_protocol},
        };
        for (const auto& f : families) {
            family(f.name, "counter", f.help);
            for (auto& [n, m] : listeners_) {
                if (m->protocol != "exchange-egress") continue;
                for (auto i = static_cast<std::size_t>(f.first); i <= static_cast<std::size_t>(f.last); ++i) {
                    const std::string label = *f.label ? std::string(",") + f.label + "=\"" +
                                                             exchange_count_name(static_cast<C>(i)) + "\""
                                                       : std::string();
                    line(f.name, *m, label, m->exchange[i].load());
                }
            }
        }
    }
    family("ward_sessions_active_total", "gauge", "Sessions open now, all listeners.");
    out += "ward_sessions_active_total " + std::to_string(std::max<std::int64_t>(0, global_active_.load())) + "\n";
    return out;
}

}  // namespace ward::proxy
