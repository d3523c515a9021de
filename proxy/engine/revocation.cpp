// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/revocation.hpp"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>

#include "proxy/engine/log.hpp"
#include "proxy/engine/ocsp_fetch.hpp"
#include "tls/ocsp.hpp"
#include "tls/openssl_error.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/tls_counters.hpp"
#include "tls/x509.hpp"

namespace ward::proxy {

namespace {

using tls::OcspStatus;
using tls::RevocationResult;

// How long "no answer" is remembered: long enough that a dead responder does not cost every
// handshake the whole timeout, short enough to notice it is back.
constexpr std::int64_t kUnavailableSeconds = 10;

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

struct Plan {
    bool done = false;
    RevocationVerdict verdict;
    const tls::PeerRules* rules = nullptr;
    std::string key;      // the leaf's SHA-256
    std::string subject;  // for messages
    std::optional<tls::OcspQuery> query;
    tls::HttpUrl url;
};

// The leaf's issuer: from the verified chain of a full handshake, else (a resumption carries
// only the leaf) by building the chain again against the context's trust store.
tls::UniqueX509 issuer_of(SSL* ssl, X509* leaf) {
    if (STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl); chain && sk_X509_num(chain) >= 2) {
        X509* issuer = sk_X509_value(chain, 1);
        X509_up_ref(issuer);
        return tls::UniqueX509(issuer);
    }
    X509_STORE* store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    tls::UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, SSL_get_peer_cert_chain(ssl)) != 1) {
        tls::clear_openssl_errors();
        return nullptr;
    }
    // Only the chain is wanted here (the peer passed every rule when its session was accepted):
    // CRL, time and policy errors must not hide the issuer.
    X509_STORE_CTX_set_verify_cb(ctx.get(), [](int, X509_STORE_CTX*) { return 1; });
    tls::UniqueX509 out;
    X509_verify_cert(ctx.get());
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    if (chain && sk_X509_num(chain) >= 2) {
        X509* issuer = sk_X509_value(chain, 1);
        X509_up_ref(issuer);
        out.reset(issuer);
    }
    tls::clear_openssl_errors();
    return out;
}

// The verdict an answer (or its absence) gives under the context's rule; counts it.
RevocationVerdict judge(const tls::PeerRules& rules, OcspStatus status, const std::string& why,
                        const std::string& subject, bool full_budget) {
    auto& counters = tls::context_counters(rules.context);
    RevocationVerdict v;
    switch (status) {
        case OcspStatus::good: counters.count(RevocationResult::good); return v;
        case OcspStatus::revoked:
            counters.count(RevocationResult::revoked);
            v.allowed = false;
            v.why = "peer certificate " + subject + " is revoked by its OCSP responder: " + why;
            return v;
        case OcspStatus::unknown: counters.count(RevocationResult::unknown); break;
        case OcspStatus::invalid: counters.count(RevocationResult::unavailable); break;
    }
    if (rules.revocation.ocsp == config::OcspCheck::require) {
        v.allowed = false;
        v.why = "no OCSP answer vouches for peer certificate " + subject + " (revocation.ocsp: require): " + why;
        return v;
    }
    if (!full_budget) {
        // The peer's slow handshake left the responder less than `timeout`: the benefit of the
        // doubt is for responders that had their whole time, never one a peer can starve.
        v.allowed = false;
        v.why = "no OCSP answer for peer certificate " + subject +
                " in the time its handshake left (less than revocation.timeout): " + why;
        return v;
    }
    counters.revocation_soft_fail.fetch_add(1, std::memory_order_relaxed);
    v.why = "let in without an OCSP answer for " + subject + " (revocation.ocsp: prefer): " + why;
    return v;
}

Plan plan_for(SSL* ssl) {
    Plan p;
    p.done = true;
    p.rules = tls::peer_rules(ssl);
    if (!p.rules || p.rules->revocation.ocsp == config::OcspCheck::off || !p.rules->ocsp_cache) return p;
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) return p;  // no certificate (verify_peer: optional): nothing to look up
    p.subject = tls::subject_oneline(leaf);
    auto issuer = issuer_of(ssl, leaf);
    if (!issuer && (X509_get_extension_flags(leaf) & EXFLAG_SS)) {
        // A self-signed certificate put in the trust store is its own anchor: nobody else can
        // vouch for it; removing it from the store is its revocation.
        return p;
    }
    if (!issuer) {
        // Issued by someone the trust store does not hold: no request can name the issuer.
        p.verdict = judge(*p.rules, OcspStatus::invalid, "its issuer is not in the trust store, so no OCSP request "
                                                         "can be made for it", p.subject, true);
        return p;
    }
    p.key = tls::sha256_fingerprint(leaf);
    const auto now = now_seconds();
    if (auto cached = p.rules->ocsp_cache->find(p.key, now)) {
        p.verdict = judge(*p.rules, cached->status, cached->why, p.subject, true);
        return p;
    }
    const auto& override_url = p.rules->revocation.responder_override;
    const auto responder = override_url.empty() ? tls::ocsp_responder(leaf) : override_url;
    auto url = tls::parse_http_url(responder);
    auto query = url ? tls::OcspQuery::make(leaf, issuer.get(), true) : std::nullopt;
    if (!url || !query) {
        const std::string why = responder.empty() ? "the certificate names no OCSP responder"
                                : !url           ? "its OCSP responder '" + responder + "' is not an http:// URL"
                                                 : "no OCSP request can be made for it";
        p.rules->ocsp_cache->put(p.key, {OcspStatus::invalid, why, now + kUnavailableSeconds}, now);
        p.verdict = judge(*p.rules, OcspStatus::invalid, why, p.subject, true);
        return p;
    }
    p.done = false;
    p.url = std::move(*url);
    p.query = std::move(query);
    return p;
}

std::chrono::milliseconds budget(const Plan& p, std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    return std::max(std::chrono::milliseconds(1), std::min(left, p.rules->revocation.timeout));
}

RevocationVerdict conclude(const Plan& p, const OcspFetch& fetched, bool full_budget) {
    const auto now = now_seconds();
    const auto cache = std::chrono::duration_cast<std::chrono::seconds>(p.rules->revocation.cache).count();
    tls::OcspResult result;
    if (fetched.ok) {
        result = p.query->check(fetched.body, now, cache);
    } else {
        result.why = fetched.error;
    }
    auto until = now + cache;
    if (result.status == OcspStatus::invalid) until = std::min(until, now + kUnavailableSeconds);
    else if (result.next_update != 0) until = std::min(until, result.next_update);
    // A failure within a budget the peer cut short says nothing about the responder: not kept.
    if (until > now && (full_budget || result.status != OcspStatus::invalid))
        p.rules->ocsp_cache->put(p.key, {result.status, result.why, until}, now);
    if (result.status == OcspStatus::invalid)
        proxy_log().warn("context {}: OCSP check of {} failed: {}", p.rules->context, p.subject, result.why);
    return judge(*p.rules, result.status, result.why, p.subject, full_budget);
}

// Fetches in progress on this worker, by context and certificate: a burst of handshakes with
// one certificate costs its responder one request, not one per handshake. Each waiter waits on
// the fetch's timer, cancelled when the answer is in the cache (or expiring with its budget).
using Pending = std::map<std::string, std::shared_ptr<asio::steady_timer>>;
Pending& pending_fetches() {
    thread_local Pending pending;
    return pending;
}

std::string pending_key(const Plan& p) {
    return std::to_string(reinterpret_cast<std::uintptr_t>(p.rules)) + " " + p.key;
}

// This connection's fetch, announced to the others until it ends (however it ends).
class PendingFetch {
public:
    PendingFetch(std::string key, std::shared_ptr<asio::steady_timer> done) : key_(std::move(key)), done_(std::move(done)) {
        pending_fetches()[key_] = done_;
    }
    ~PendingFetch() {
        pending_fetches().erase(key_);
        done_->cancel();
    }
    PendingFetch(const PendingFetch&) = delete;
    PendingFetch& operator=(const PendingFetch&) = delete;

private:
    std::string key_;
    std::shared_ptr<asio::steady_timer> done_;
};


}  // namespace

bool revocation_applies(const SSL* ssl) {
    const auto* rules = tls::peer_rules(ssl);
    return rules && rules->revocation.ocsp != config::OcspCheck::off && SSL_get0_peer_certificate(ssl) != nullptr;
}

awaitable<RevocationVerdict> check_revocation(SSL* ssl, asio::any_io_executor ex,
                                              std::chrono::steady_clock::time_point until) {
    Plan plan = plan_for(ssl);
    // Another connection of this worker is asking about the same certificate: wait for its
    // answer (then in the cache), and ask ourselves only if it left none.
    for (;;) {
        if (plan.done) co_return plan.verdict;
        auto it = pending_fetches().find(pending_key(plan));
        if (it == pending_fetches().end()) break;
        if (std::chrono::steady_clock::now() >= until)
            co_return judge(*plan.rules, OcspStatus::invalid, "no answer in time", plan.subject, false);
        std::shared_ptr<asio::steady_timer> fetching = it->second;
        auto wait = fetching->async_wait(use_tuple);
        co_await std::move(wait);
        plan = plan_for(ssl);
    }
    const auto timeout = budget(plan, until);
    const bool full_budget = timeout >= plan.rules->revocation.timeout;
    // (The fetch ends by its own deadline; the waiters' timer is a second later so that they
    // never see it expire while the fetch is still running.)
    PendingFetch fetch(pending_key(plan), std::make_shared<asio::steady_timer>(ex, timeout + std::chrono::seconds(1)));
    const std::string& request = plan.query->der();
    auto op = fetch_ocsp(ex, plan.url, request, timeout);
    OcspFetch fetched = co_await std::move(op);
    co_return conclude(plan, fetched, full_budget);  // (the waiters wake when `fetch` goes, after this)
}

}  // namespace ward::proxy
