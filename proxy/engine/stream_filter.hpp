// SPDX-License-Identifier: Apache-2.0
#pragma once
// A per-direction message filter the relay runs on the bytes it moves, without knowing the
// protocol (a front supplies it: SIP framing and identity stamping, the XMPP stream guard).
#include <chrono>
#include <cstddef>
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
};

}  // namespace ward::proxy
