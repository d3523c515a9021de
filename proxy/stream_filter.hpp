#pragma once
// A per-direction message filter the relay runs on the bytes it moves, without knowing the
// protocol (SIP framing and identity stamping run through it).
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
};

}  // namespace ward::proxy
