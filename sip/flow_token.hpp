// SPDX-License-Identifier: Apache-2.0
#pragma once
// Flow tokens (RFC 5626 section 5.2): what ward writes into the Record-Route and Path URIs it
// adds, so that a request the backend later sends back through ward can name the TLS
// connection ("flow") to use. A token is
//     base64url( key id (3) | kind (1) | flow id (8) | MAC (16) )
//     MAC = HMAC-SHA256(key, key id | kind | flow id | scope) truncated to 16 bytes
// 38 characters from the URI user part's unreserved set. Two kinds:
//   - path: in the Path of a REGISTER; names the flow for any request (a new call to the UA).
//     Its scope is empty. Only the registrar sees it.
//   - dialog: in a Record-Route; scoped to the request's Call-ID, so it routes only requests
//     of that dialog. Peers see these (Record-Route comes back in responses): a peer that
//     learns another's token can use it only inside a dialog it is part of, where it could send
//     the same request anyway.
// A token cannot be made up for a flow ward did not name, nor moved to another dialog.
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

    enum class Kind : unsigned char { path = 1, dialog = 2 };
    // A token for `flow` with the current key (rotated as due); `scope`: the Call-ID for a
    // dialog token, empty for a path token.
    std::string make(Kind kind, std::uint64_t flow, std::string_view scope = {});
    struct Verified {
        Kind kind = Kind::path;
        std::uint64_t flow = 0;
    };
    // The kind and flow a token names, or nullopt when it is malformed, altered, made by another
    // process, older than two rotation periods, or (dialog tokens) made for another `scope`.
    std::optional<Verified> verify(std::string_view token, std::string_view scope = {});

    // For tests: step the key clock without waiting.
    void advance(std::chrono::seconds by);

    static constexpr std::size_t kLength = 38;

private:
    struct Key {
        std::array<unsigned char, 3> id{};
        std::array<unsigned char, 32> secret{};
        clock::time_point created{};
        bool valid = false;
    };
    void rotate_if_due(clock::time_point now);
    // A copy of the current key (`id` null) or of the key with that id (invalid when none), and
    // the key clock's now; fetches the MAC once.
    Key key_for_use(const std::array<unsigned char, 3>* id, clock::time_point& now);
    std::string seal(const Key& key, Kind kind, std::uint64_t flow, std::string_view scope);

    std::mutex mutex_;
    std::chrono::seconds rotation_;
    clock::duration offset_{};
    Key current_;
    Key previous_;
};

}  // namespace ward::sip
