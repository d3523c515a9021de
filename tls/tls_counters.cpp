// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_counters.hpp"

#include <map>
#include <memory>
#include <mutex>

namespace ward::tls {

namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<ContextCounters>> by_name;
};

Registry& registry() {
    static Registry r;
    return r;
}

template <class E, std::size_t N>
void emit(std::string& out, const char* metric, const std::string& context, const char* key,
          const std::array<std::atomic<std::uint64_t>, N>& values) {
    for (std::size_t i = 0; i < N; ++i)
        out += std::string(metric) + "{context=\"" + prometheus_label(context) + "\"," + key + "=\"" +
               to_string(static_cast<E>(i)) + "\"} " + std::to_string(values[i].load(std::memory_order_relaxed)) +
               "\n";
}

}  // namespace

std::string prometheus_label(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

const char* to_string(SniFallback v) { return v == SniFallback::no_name ? "no_sni" : "unknown_name"; }
const char* to_string(StapleEvent v) {
    switch (v) {
        case StapleEvent::fetched: return "fetched";
        case StapleEvent::fetch_failed: return "fetch_failed";
        default: return "stapled";
    }
}
const char* to_string(RevocationResult v) {
    switch (v) {
        case RevocationResult::good: return "good";
        case RevocationResult::revoked: return "revoked";
        case RevocationResult::unknown: return "unknown";
        default: return "unavailable";
    }
}

ContextCounters& context_counters(const std::string& context) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto& slot = r.by_name[context];
    if (!slot) slot = std::make_unique<ContextCounters>();
    return *slot;
}

void for_each_context_counters(const std::function<void(const std::string&, const ContextCounters&)>& f) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& [name, counters] : r.by_name) f(name, *counters);
}

std::string context_counters_text() {
    std::string sni, staple, revocation, soft;
    for_each_context_counters([&](const std::string& name, const ContextCounters& c) {
        emit<SniFallback>(sni, "ward_tls_sni_default_total", name, "reason", c.sni_fallback);
        emit<StapleEvent>(staple, "ward_tls_ocsp_staple_total", name, "event", c.staple);
        emit<RevocationResult>(revocation, "ward_tls_peer_revocation_total", name, "result", c.revocation);
        soft += "ward_tls_peer_revocation_soft_fail_total{context=\"" + prometheus_label(name) + "\"} " +
                std::to_string(c.revocation_soft_fail.load(std::memory_order_relaxed)) + "\n";
    });
    if (sni.empty()) return {};
    return "# HELP ward_tls_sni_default_total Handshakes of a context with several certificates that got the first one: "
           "no server name, or a name no certificate holds.\n# TYPE ward_tls_sni_default_total counter\n" +
           sni +
           "# HELP ward_tls_ocsp_staple_total OCSP responses fetched for stapling, fetches that failed, and handshakes "
           "that got a stapled response.\n# TYPE ward_tls_ocsp_staple_total counter\n" +
           staple +
           "# HELP ward_tls_peer_revocation_total Peer certificates checked by OCSP, by what the responder said.\n"
           "# TYPE ward_tls_peer_revocation_total counter\n" +
           revocation +
           "# HELP ward_tls_peer_revocation_soft_fail_total Peers let in without an OCSP answer (ocsp: prefer).\n"
           "# TYPE ward_tls_peer_revocation_soft_fail_total counter\n" +
           soft;
}

}  // namespace ward::tls
