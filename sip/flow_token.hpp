// SPDX-License-Identifier: Apache-2.0
#pragma once
// Flow tokens (RFC 5626 section 5.2): what ward writes into the Record-Route and Path URIs it
// adds, so that a request the backend later sends back through ward can name the TLS
// connection ("flow") to use. A token is
//     base64url( key id (4) | flow id (8) | HMAC-SHA256(key, key id | flow id) truncated to 16 )
// 38 characters from the URI user part's unreserved set. Peers see tokens (Record-Route comes
// back in responses), so a token only ever selects a flow: it grants nothing a request could
// not get through the backend anyway, and it cannot be made up for a flow ward did not name.
//
// Keys: one random HMAC key for the process, kept across reloads; it rotates every `rotation`
// (default 12 h, as the session ticket keys) and tokens made with the previous key are still
// accepted for one more period. Older tokens, tokens from another process and altered ones
// are all "bad": the backend gets 403. Keys never leave memory and are cleansed when dropped.
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ward::sip {

class FlowTokens {
public:
    using clock = std::chrono::steady_clock;
    explicit FlowTokens(std::chrono::seconds rotation = std::chrono::hours(12));
    ~FlowTokens();
    FlowTokens(const FlowTokens&) = delete;
    FlowTokens& operator=(const FlowTokens&) = delete;

    // The process's keys (what the fronts use).
    static FlowTokens& process();

    // A token for `flow` with the current key (rotated as due).
    std::string make(std::uint64_t flow);
    // The flow a token names, or nullopt when it is malformed, altered, made by another
    // process, or older than two rotation periods.
    std::optional<std::uint64_t> verify(std::string_view token);

    // For tests: step the key clock without waiting.
    void advance(std::chrono::seconds by);

    static constexpr std::size_t kLength = 38;

private:
    struct Key {
        std::array<unsigned char, 4> id{};
        std::array<unsigned char, 32> secret{};
        clock::time_point created{};
        bool valid = false;
    };
    void rotate_if_due(clock::time_point now);
    std::string seal(const Key& key, std::uint64_t flow) const;

    std::mutex mutex_;
    std::chrono::seconds rotation_;
    clock::duration offset_{};
    Key current_;
    Key previous_;
};

}  // namespace ward::sip
