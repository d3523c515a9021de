// SPDX-License-Identifier: Apache-2.0
#pragma once
// BOSH sessions' `wait` (XEP-0124 section 7.1), by sid, as the backend's session creation
// answer chose it: how long the xmpp-web front lets a long poll of that session take. Shared by
// the workers (a client's connections may land on several), bounded.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "xmpp/web/xml_element.hpp"

namespace ward::proxy {

class BoshWaits {
public:
    using clock = std::chrono::steady_clock;

    void remember(const std::string& sid, std::chrono::seconds wait);
    std::optional<std::chrono::seconds> find(const std::string& sid);

private:
    static constexpr std::size_t kMax = 100000;
    static constexpr auto kForget = std::chrono::minutes(10);
    struct Entry {
        std::chrono::seconds wait;
        clock::time_point used;
    };
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> waits_;
    clock::time_point swept_{};
};

// The process's table.
BoshWaits& bosh_waits();

// An attribute holding whole seconds (`wait`), or nullopt.
std::optional<std::chrono::seconds> seconds_attribute(const xmpp::web::Element& e, std::string_view name);

}  // namespace ward::proxy
