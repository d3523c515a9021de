// SPDX-License-Identifier: Apache-2.0
#pragma once
// Counters kept per TLS context name for the whole process, so that they run on across reloads
// (a reload builds new contexts under the same names): SNI fallbacks, OCSP stapling and peer
// revocation checks. Relaxed atomics; read by the metrics endpoint.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ward::tls {

enum class SniFallback { no_name, unknown_name, count_ };
enum class StapleEvent { fetched, fetch_failed, stapled, count_ };
// A peer certificate's OCSP check: what the responder said, or that it could not say
// (unavailable: no responder, no answer in time, or an answer that did not verify).
enum class RevocationResult { good, revoked, unknown, unavailable, count_ };
const char* to_string(SniFallback v);
const char* to_string(StapleEvent v);
const char* to_string(RevocationResult v);

struct ContextCounters {
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(SniFallback::count_)> sni_fallback{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(StapleEvent::count_)> staple{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(RevocationResult::count_)> revocation{};
    // A peer let in although its status was unavailable (ocsp: prefer).
    std::atomic<std::uint64_t> revocation_soft_fail{0};

    void count(SniFallback v) { sni_fallback[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed); }
    void count(StapleEvent v) { staple[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed); }
    void count(RevocationResult v) { revocation[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed); }
};

// The counters of a context name, made on first use; the reference stays valid for the process.
ContextCounters& context_counters(const std::string& context);
// Every context's counters, by name.
void for_each_context_counters(const std::function<void(const std::string&, const ContextCounters&)>& f);
// A label value in the Prometheus text format: backslash, double quote and line feed escaped.
std::string prometheus_label(std::string_view value);
// Prometheus text for all of them ("" when no context ever counted anything).
std::string context_counters_text();

}  // namespace ward::tls
