// SPDX-License-Identifier: Apache-2.0
#pragma once
// SIP message framing on a stream (RFC 3261 sections 7.5, 18.3, 20.14; RFC 5626 sections 4.4.1
// and 5.4), one direction of one connection. The relay feeds the bytes as they arrive, in any
// chunking, and writes out what each feed returns. No I/O here.
//
// The stream, as the framer reads it:
//   - Between messages, CRLFs are not forwarded. Each CRLFCRLF seen while no message has
//     started is a keep-alive ping, answered with one CRLF pong; CRLFs are paired in arrival
//     order, so 4 CRLFs are 2 pings and 3 CRLFs are 1 ping. A CRLF left unpaired when a
//     start-line begins is the stray CRLF RFC 3261 section 7.5 says to ignore. A lone CR or LF
//     between messages is not SIP.
//   - A message is a start-line, header lines, the empty line (the head), then exactly
//     Content-Length body bytes. Content-Length is mandatory (stream transport). Grammar and
//     header rules: sip/message_head.hpp.
//   - The head, counted from the first byte of the start-line through its final CRLFCRLF,
//     may be at most max_header_size bytes; ward gives up (513) at the first byte beyond that
//     without the end, so memory stays bounded. The body may be at most max_body_size.
//   - The start-line is checked as it arrives: a first byte that cannot begin a method or
//     SIP/2.0 (a TLS record, binary data) fails at once, a complete line that is not SIP
//     (`GET / HTTP/1.1`) fails at its CRLF.
//   - A framing error ends the stream: messages completed before it are forwarded, nothing of
//     the broken one is; a request parsed far enough is answered 400 (malformed head,
//     Content-Length missing, malformed or conflicting) or 513 (head or body over the limit);
//     then the connection closes.
//
// Identity (from the peer): every copy of the identity header is removed, and in requests
// ward's own line (sip/identity_stamp.hpp) is added as the last header, just before the empty
// line: proxy-relevant headers stay at the top (RFC 3261 section 7.3.1), and since exactly one
// copy reaches the backend, its position cannot be played against first-match or last-match
// parsers. Content-Length counts the body only, so it stays valid. A peer's responses lose their
// copies too (a backend must not take a peer's word for it there either) and get none of ward's;
// otherwise responses are relayed byte for byte.
//
// Memory: at most max_header_size bytes while a head is incomplete, then the (rewritten) head
// plus at most max_body_size, and nothing between messages. The head's end is searched
// incrementally (bytes of earlier feeds are never rescanned), then the head is parsed once. A
// message that lies within one feed is copied once, straight into `forward`.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sip/identity_stamp.hpp"
#include "sip/message_head.hpp"

namespace ward::sip {

struct FramerLimits {
    std::size_t max_header_size = 16 * 1024;
    std::size_t max_body_size = 64 * 1024;
};

FramerLimits framer_limits(const config::SipListenerOptions& options);

enum class Direction { from_peer, from_backend };

// Edge routing (sip/edge.hpp) decides per message, through a hook the framer calls with each
// complete, well-formed head: what to change in the head, and where the message goes.
struct HeadEdit {
    std::size_t begin = 0;  // head[begin, end) is replaced by `text` (begin == end: inserted)
    std::size_t end = 0;
    std::string text;
};

struct HeadPlan {
    std::vector<HeadEdit> edits;  // non-overlapping; any order
    std::string answer;           // not empty: the message is dropped and this goes back to the sender
    bool drop = false;            // the message is dropped without an answer
    std::uint64_t divert = 0;     // not 0: the message goes to FramerOutput::diverted with this tag
    int status = 0;               // the answer's status (an ACK gets none: dropped, status kept)
    std::string why;              // for the log, when the message is not forwarded
    bool forwarded() const { return answer.empty() && !drop; }
};

class HeadHook {
public:
    virtual ~HeadHook() = default;
    // `head` is the complete head (start-line through the empty line) as received; `parsed`
    // its parse (no error, Content-Length known).
    virtual HeadPlan plan(std::string_view head, const MessageHead& parsed) = 0;
};

// A message the hook sent elsewhere than the other side of the relay.
struct Diverted {
    std::uint64_t to = 0;
    std::string message;  // complete, edited
};

// What one feed produced. The relay writes `forward` to the other side, then `pongs` CRLFs
// and `reply` back to the sender (in that order: the pings came before the broken message),
// and closes when `close` is set.
struct FramerOutput {
    std::string forward;       // complete messages, rewritten where needed, in order
    int pongs = 0;             // "\r\n" answers to send back to the sender
    std::string reply;         // a 400 / 513 to send back before closing (may be empty)
    bool close = false;        // close the connection after writing the above
    std::string error;         // why, for the session log line, when `close`
    bool mid_message = false;  // a message has started and not completed: its timer runs
    std::vector<Diverted> diverted;  // complete messages the hook sent elsewhere, in order
    std::vector<std::string> notes;  // why messages were answered or dropped (HeadPlan::why)
};

class Framer {
public:
    // `stamp`: the identity written into requests. Only for Direction::from_peer; without it,
    // identity headers are relayed untouched (give IdentityStamp::unverified() to strip them
    // for a peer without a verified certificate).
    // `hook` (may be null; must outlive the framer) plans each message's edits and destination.
    Framer(Direction direction, FramerLimits limits, std::optional<IdentityStamp> stamp, HeadHook* hook = nullptr);

    // Frames `bytes`. After an output with `close`, the framer is spent: further feeds return
    // `close` again and nothing else.
    FramerOutput feed(std::string_view bytes);

    bool mid_message() const { return state_ == State::head || state_ == State::body; }
    bool closed() const { return state_ == State::closed; }
    // Bytes held for the message in progress (for tests of the memory bound).
    std::size_t buffered() const { return msg_.size(); }

private:
    enum class State { between, head, body, closed };

    std::size_t skip_between(std::string_view in, std::size_t pos, FramerOutput& out);
    std::size_t take_head(std::string_view in, std::size_t pos, FramerOutput& out);
    std::size_t finish_head(std::string_view head, std::string_view in, std::size_t after,
                            FramerOutput& out);
    std::size_t take_body(std::string_view in, std::size_t pos, FramerOutput& out);
    void complete_buffered(FramerOutput& out);
    // The identity header to replace in requests: empty when this framer does not stamp.
    std::string_view identity_name() const;
    void write_head(std::string& dest, std::string_view head, const std::vector<HeadEdit>& edits,
                    std::string_view stamp) const;
    void fail(FramerOutput& out, std::string reply, std::string why);

    Direction direction_;
    FramerLimits limits_;
    std::optional<IdentityStamp> stamp_;
    HeadHook* hook_ = nullptr;
    State state_ = State::between;

    bool cr_pending_ = false;    // between messages: a CR waiting for its LF
    bool crlf_pending_ = false;  // between messages: one CRLF, waiting to become a ping

    int match_ = 0;                // head: how much of "\r\n\r\n" the latest bytes match
    std::size_t lines_end_ = 0;    // head: just past the last CRLF so far
    bool start_line_done_ = false; // head: the start-line is complete and valid
    std::size_t body_left_ = 0;    // body: bytes still to come
    bool discard_ = false;         // body: the message was answered or dropped, its bytes go nowhere
    std::uint64_t divert_ = 0;     // body: the message goes to `diverted` with this tag
    std::vector<HeadEdit> edits_;  // reused across messages

    // The message in progress, when it spans feeds: the raw head while incomplete, then the
    // head as forwarded and the body so far. Empty while a message lies within one feed.
    std::string msg_;
    MessageHead parsed_;  // reused across messages
};

}  // namespace ward::sip
