// SPDX-License-Identifier: Apache-2.0
#pragma once
// The requests one side of a SIP relay forwarded that the other side has not answered yet
// (RFC 3261 sections 16.8 and 17: a proxy answers 408 Request Timeout for a transaction whose
// next hop stays silent). Any response from the other side for a request's transaction (the
// same Call-ID and CSeq), provisional or final, takes it off the list: the next hop is alive
// and the end's own timers take over from there. A request still unanswered `timeout` after it
// was forwarded gets ward's 408, built from its own Via, From, To, Call-ID and CSeq.
//
// ACK gets no response and is not tracked; nor is a request that could not be answered (see
// error_response). Memory: at most `capacity` requests and `max_bytes` of keys and 408s (a 408
// copies every Via of its request); beyond either, new requests are forwarded untracked. No I/O
// here; the caller owns time.
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "sip/message_head.hpp"

namespace ward::sip {

class PendingRequests {
public:
    using clock = std::chrono::steady_clock;

    PendingRequests(std::chrono::milliseconds timeout, std::size_t capacity = 64, std::size_t max_bytes = 32 * 1024);

    // A complete head passed on to the other side (`parsed` its parse, without error).
    void forwarded(std::string_view head, const MessageHead& parsed, clock::time_point now);
    // A complete head that came back from the other side.
    void returned(std::string_view head, const MessageHead& parsed);

    // When the oldest request gives up; none while nothing waits.
    std::optional<clock::time_point> due() const;
    // The 408s of every request that has waited `timeout` by `now`, in the order they were
    // forwarded, taken off the list.
    std::string expire(clock::time_point now);

    std::size_t size() const { return waiting_.size(); }
    std::size_t bytes() const { return bytes_; }

private:
    struct Waiting {
        std::string key;  // Call-ID, CR, CSeq as written
        std::string answer;
        clock::time_point due;
    };
    std::chrono::milliseconds timeout_;
    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::deque<Waiting> waiting_;  // forwarding order = due order
};

}  // namespace ward::sip
