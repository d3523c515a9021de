// SPDX-License-Identifier: Apache-2.0
#pragma once
// A per-direction message filter the relay runs on the bytes it moves, without knowing the
// protocol (a front supplies it: SIP framing and identity stamping, the XMPP stream guard).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace ward::proxy {

class StreamFilter {
public:
    struct Output {
        std::string forward;       // bytes to send on to the other side
        std::string reply;         // bytes to send back to the sender (a pong, an error response)
        bool close = false;        // close the session after forwarding and replying
        std::string reason;        // why, when close
        bool mid_message = false;  // a message has started and not completed
    };
    virtual ~StreamFilter() = default;
    virtual Output feed(const char* data, std::size_t size) = 0;
    // How long a message may take once it has started (Output::mid_message), after which the
    // session times out. The relay asks; only the filter knows its protocol's rule.
    virtual std::chrono::milliseconds message_timeout() const { return std::chrono::hours(24); }

    // A filter that only watches: the relay passes the bytes on as they are and shows them to
    // observe() instead of feed().
    virtual bool watches_only() const { return false; }
    virtual void observe(const char* /*data*/, std::size_t /*size*/) {}
    // The direction's source is gone (`failed`: reset or broken rather than its end of
    // stream): the protocol's last word for the other side, if it has one, written there
    // before it is closed.
    virtual std::string source_gone(bool /*failed*/) { return {}; }

    // Requests this direction forwarded that wait for the other side's answer: when the
    // earliest gives up, and then the answers ward sends back to this direction's sender in
    // the other side's place (a SIP 408).
    using clock = std::chrono::steady_clock;
    virtual std::optional<clock::time_point> due() const { return std::nullopt; }
    virtual std::string expire(clock::time_point /*now*/) { return {}; }
};

}  // namespace ward::proxy
