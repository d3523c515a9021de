// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/web/bosh_waits.hpp"

#include <iterator>

namespace ward::proxy {

void BoshWaits::remember(const std::string& sid, std::chrono::seconds wait) {
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    if (waits_.size() >= kMax) {
        // Full: forget the unused, at most once a minute (a full table costs one scan).
        if (now - swept_ < std::chrono::minutes(1)) return;
        swept_ = now;
        for (auto it = waits_.begin(); it != waits_.end();)
            it = now - it->second.used > kForget ? waits_.erase(it) : std::next(it);
        if (waits_.size() >= kMax) return;
    }
    waits_[sid] = {wait, now};
}

std::optional<std::chrono::seconds> BoshWaits::find(const std::string& sid) {
    std::lock_guard lock(mutex_);
    const auto it = waits_.find(sid);
    if (it == waits_.end()) return std::nullopt;
    it->second.used = clock::now();
    return it->second.wait;
}

BoshWaits& bosh_waits() {
    static BoshWaits waits;
    return waits;
}

std::optional<std::chrono::seconds> seconds_attribute(const xmpp::web::Element& e, std::string_view name) {
    const auto v = e.attribute(name);
    if (!v || v->empty() || v->size() > 6) return std::nullopt;
    unsigned n = 0;
    for (char c : *v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    return std::chrono::seconds(n);
}

}  // namespace ward::proxy
