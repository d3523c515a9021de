// SPDX-License-Identifier: Apache-2.0
#pragma once
// OCSP stapling (tls_contexts.NAME.ocsp.staple): fetches the status of every certificate a
// stapling context presents from its responder, checks it (tls/ocsp.*), keeps it, refreshes it
// before its nextUpdate (and at least every `refresh`), and hands it to the contexts, which
// staple it when a client asks. Runs on the control thread. A failed fetch keeps the last good
// response until it is out of date, then stapling stops for that certificate; both are counted.
// The cache outlives reloads, keyed by certificate and responder.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::tls {
class OcspQuery;
}

namespace ward::proxy {

class Stapler {
public:
    explicit Stapler(asio::io_context& control);

    // Fetches what the snapshot's stapling contexts lack, waiting at most `wait` on a private
    // io_context (called before the control loop runs, or from it during a reload), and puts the
    // responses in place. False, with the reason logged, when a must-staple certificate (RFC
    // 7633) has no valid response: ward does not start, or the reload is refused.
    bool prefetch(const std::shared_ptr<const Snapshot>& snapshot,
                  std::chrono::milliseconds wait = std::chrono::seconds(6));
    // The snapshot in force (at start and after each reload); wakes the refresh loop.
    void follow(std::shared_ptr<const Snapshot> snapshot);
    // The refresh loop (co_spawn on the control context); ends at stop().
    awaitable<void> run();
    void stop();

private:
    using clock = std::chrono::steady_clock;
    struct Entry {
        std::shared_ptr<const std::string> der;  // the last good response
        std::int64_t valid_until = 0;            // its nextUpdate, or thisUpdate + refresh when it gives none
        clock::time_point due{};                 // when to fetch again
        unsigned failures = 0;                   // in a row
        bool in_flight = false;
    };
    static std::string key_of(const tls::PresentedCertificate& p);
    bool usable(const Entry& e) const;
    void publish(const tls::Context& context, std::size_t i);
    // Fetches certificate `i` of `context` (kept alive by `keep`) on `ex`.
    awaitable<void> fetch(std::shared_ptr<const Snapshot> keep, const tls::Context* context, std::size_t i,
                          asio::any_io_executor ex);
    // What a fetch brought: `answered` is the query a response came back to (null: none came,
    // `error` says why).
    void record(const tls::Context& context, std::size_t i, const tls::OcspQuery* answered, const std::string& body,
                const std::string& error);

    asio::io_context& control_;
    asio::steady_timer wake_;
    std::shared_ptr<const Snapshot> snapshot_;
    std::map<std::string, Entry> cache_;
    bool stopped_ = false;
};

}  // namespace ward::proxy
