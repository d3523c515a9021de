// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/stapler.hpp"

#include <algorithm>
#include <ctime>

#include "proxy/engine/log.hpp"
#include "proxy/engine/ocsp_fetch.hpp"
#include "tls/ocsp.hpp"
#include "tls/tls_counters.hpp"
#include "tls/x509.hpp"

namespace ward::proxy {

namespace {

constexpr std::chrono::milliseconds kFetchTimeout{5000};
constexpr std::chrono::seconds kFirstRetry{5};
constexpr std::chrono::seconds kLongestRetry{300};

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// What a fetch needs, or why it cannot be made.
struct Request {
    std::optional<tls::HttpUrl> url;
    std::optional<tls::OcspQuery> query;
};

Request request_for(const tls::PresentedCertificate& p) {
    Request r;
    r.url = tls::parse_http_url(p.responder);
    // No nonce: a stapled response is served to many clients (RFC 6961; RFC 5019 responders
    // answer from a cache and ignore nonces).
    if (r.url && p.issuer) r.query = tls::OcspQuery::make(p.leaf.get(), p.issuer.get(), false);
    return r;
}

}  // namespace

Stapler::Stapler(asio::io_context& control) : control_(control), wake_(control) {}

std::string Stapler::key_of(const tls::PresentedCertificate& p) {
    return tls::sha256_fingerprint(p.leaf.get()) + " " + p.responder;
}

bool Stapler::usable(const Entry& e) const {
    return e.der && e.valid_until > now_seconds();
}

void Stapler::publish(const tls::Context& context, std::size_t i) {
    auto* staples = context.staples();
    if (!staples) return;
    auto it = cache_.find(key_of(context.presented()[i]));
    if (it != cache_.end() && usable(it->second))
        staples->set(i, it->second.der, it->second.valid_until);
    else
        staples->set(i, nullptr, 0);
}

void Stapler::record(const tls::Context& context, std::size_t i, const tls::OcspQuery* answered,
                     const std::string& body, const std::string& error) {
    const auto& p = context.presented()[i];
    auto& e = cache_[key_of(p)];
    e.in_flight = false;
    auto& counters = tls::context_counters(context.name());
    const auto now = now_seconds();
    std::string why = error;
    if (answered) {
        const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(context.stapling().refresh).count();
        const auto result = answered->check(body, now, max_age);
        if (result.status == tls::OcspStatus::good) {
            e.der = std::make_shared<const std::string>(body);
            e.valid_until = result.next_update != 0 ? result.next_update : result.this_update + max_age;
            e.failures = 0;
            auto refresh = std::chrono::duration_cast<clock::duration>(context.stapling().refresh);
            if (result.next_update != 0) {
                // Half-way to nextUpdate at the latest, so that a failed fetch has time to be retried.
                const auto half = std::chrono::seconds(std::max<std::int64_t>(1, (result.next_update - now) / 2));
                refresh = std::min(refresh, std::chrono::duration_cast<clock::duration>(half));
            }
            e.due = clock::now() + refresh;
            counters.count(tls::StapleEvent::fetched);
            publish(context, i);
            return;
        }
        why = result.status == tls::OcspStatus::invalid ? result.why
                                                        : "the responder says the certificate is " +
                                                              std::string(tls::to_string(result.status)) +
                                                              (result.why.empty() ? "" : ": " + result.why);
        if (result.status == tls::OcspStatus::revoked) e.der.reset();  // never staple for a revoked certificate
    }
    ++e.failures;
    counters.count(tls::StapleEvent::fetch_failed);
    auto retry = std::chrono::duration_cast<clock::duration>(kFirstRetry) * (1u << std::min(e.failures - 1, 6u));
    retry = std::min({retry, std::chrono::duration_cast<clock::duration>(kLongestRetry),
                      std::chrono::duration_cast<clock::duration>(context.stapling().refresh)});
    e.due = clock::now() + retry;
    proxy_log().warn("context {}: no OCSP response for certificate '{}' from {}: {}{}", context.name(), p.name,
                     p.responder, why,
                     usable(e) ? "; the last good one is stapled until it is out of date" : "; nothing is stapled");
    publish(context, i);
}

awaitable<void> Stapler::fetch(std::shared_ptr<const Snapshot> keep, const tls::Context* context, std::size_t i,
                               asio::any_io_executor ex) {
    const auto& p = context->presented()[i];
    Request r = request_for(p);
    if (!r.url || !r.query) {
        record(*context, i, nullptr, {}, "no OCSP request can be made for it");
        co_return;
    }
    const std::string& der = r.query->der();
    auto op = fetch_ocsp(ex, *r.url, der, kFetchTimeout);
    OcspFetch f = co_await std::move(op);
    record(*context, i, f.ok ? &*r.query : nullptr, f.body, f.error);
    (void)keep;
}

bool Stapler::prefetch(const std::shared_ptr<const Snapshot>& snapshot, std::chrono::milliseconds wait) {
    asio::io_context io{1};
    const auto now = clock::now();
    bool any = false;
    for (const auto& [name, context] : snapshot->tls.contexts) {
        if (!context->staples()) continue;
        for (std::size_t i = 0; i < context->presented().size(); ++i) {
            auto& e = cache_[key_of(context->presented()[i])];
            if ((usable(e) && e.due > now) || e.in_flight) continue;  // (in flight: another context's)
            any = true;
            e.in_flight = true;
            asio::co_spawn(io, fetch(snapshot, context.get(), i, io.get_executor()), [](std::exception_ptr) {});
        }
    }
    if (any) io.run_for(wait);
    bool ok = true;
    for (const auto& [name, context] : snapshot->tls.contexts) {
        if (!context->staples()) continue;
        for (std::size_t i = 0; i < context->presented().size(); ++i) {
            publish(*context, i);
            const auto& p = context->presented()[i];
            auto& e = cache_[key_of(p)];
            e.in_flight = false;
            if (p.must_staple && !usable(e)) {
                proxy_log().error("context {}: certificate '{}' is must-staple and no valid OCSP response was had from "
                                  "{}: clients would refuse it",
                                  name, p.name, p.responder);
                ok = false;
            }
        }
    }
    return ok;
}

void Stapler::follow(std::shared_ptr<const Snapshot> snapshot) {
    snapshot_ = std::move(snapshot);
    for (const auto& [name, context] : snapshot_->tls.contexts)
        for (std::size_t i = 0; context->staples() && i < context->presented().size(); ++i) publish(*context, i);
    wake_.cancel();
}

void Stapler::stop() {
    stopped_ = true;
    wake_.cancel();
}

awaitable<void> Stapler::run() {
    while (!stopped_) {
        auto snapshot = snapshot_;
        auto next = clock::now() + std::chrono::hours(1);
        if (snapshot) {
            for (const auto& [name, context] : snapshot->tls.contexts) {
                if (!context->staples()) continue;
                for (std::size_t i = 0; i < context->presented().size() && !stopped_; ++i) {
                    const auto key = key_of(context->presented()[i]);
                    if (cache_[key].due <= clock::now() && !cache_[key].in_flight) {
                        cache_[key].in_flight = true;
                        auto op = fetch(snapshot, context.get(), i, control_.get_executor());
                        co_await std::move(op);
                    }
                    publish(*context, i);  // also drops one that went out of date
                    const auto& e = cache_[key];
                    next = std::min(next, e.due);
                    if (e.der)
                        next = std::min(next, clock::now() + std::chrono::seconds(std::max<std::int64_t>(
                                                                 1, e.valid_until - now_seconds())));
                }
            }
        }
        if (stopped_) break;
        if (snapshot != snapshot_) continue;  // a reload came during the pass: look at the new one now
        wake_.expires_at(next);
        auto [ec] = co_await wake_.async_wait(use_tuple);
        (void)ec;  // a cancel is a wake-up (a reload) or stop()
    }
}

}  // namespace ward::proxy
