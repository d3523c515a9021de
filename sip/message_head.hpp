// SPDX-License-Identifier: Apache-2.0
#pragma once
// The head of one SIP message on a stream (RFC 3261 section 7): the start-line and the header
// fields, up to the empty line. Pure parsing: the framer decides where a head begins and ends;
// this file checks its grammar, finds the few header fields ward reads or rewrites, and writes
// the 400 / 513 answer to a request that cannot be relayed (RFC 3261 sections 8.2.6, 21.5.7).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ward::sip {

enum class MessageKind { request, response };

// A start-line that passed the grammar of RFC 3261 sections 7.1 and 7.2:
//     Request-Line = Method SP Request-URI SP SIP-Version
//     Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase
// Method is a token, the Request-URI is `scheme:` and visible ASCII, SIP-Version is SIP/2.0
// (case-insensitive, section 7.1), Status-Code is 100-699, and the single SPs are exact.
struct StartLine {
    MessageKind kind = MessageKind::request;
    std::string_view method;  // requests: a view into the parsed text
    int status = 0;           // responses
};

// `line` without its CRLF.
std::optional<StartLine> parse_start_line(std::string_view line);

// The header fields ward reads (Content-Length, and those an error response copies), removes
// (the identity header) or rewrites at the edge (sip/edge.hpp: Route, Record-Route, Path,
// Max-Forwards, and Contact for its reg-id). Compact forms count: l, v, f, t, i, m.
enum class FieldKind { content_length, identity, via, from, to, call_id, cseq, route, record_route, path, max_forwards, contact };

struct Field {
    FieldKind kind = FieldKind::via;
    std::size_t begin = 0;  // offset of the header name in the head
    std::size_t end = 0;    // just past the CRLF of its last (continuation) line
};

struct MessageHead {
    StartLine start;
    std::vector<Field> fields;                    // in message order
    std::optional<std::uint64_t> content_length;  // saturates at UINT64_MAX
    int error_status = 0;                         // 0, or the first problem's 400 / 513
    std::string error;                            // the first problem, for the log

    void fail(int status, std::string why);
    void clear();
};

// Parses `head`: a valid start-line and CRLF, then header lines. When `complete`, `head` ends
// with the empty line (CRLFCRLF); otherwise it is the complete lines of a head cut short at the
// size limit, each ending with CRLF (enough to answer 513). `identity_name` (empty: none) names the
// header ward removes from what a peer sends (and stamps into its requests).
//
// Line rules (the first violation is kept in `error_status` / `error`, parsing goes on so that
// an answer can still be written):
//   - every byte is HTAB, SP, visible ASCII or >= 0x80: a bare CR or LF, NUL or other control
//     byte is an error, since a backend splitting lines differently would see other headers;
//   - `name *WSP ":" value`, name a token; whitespace around the colon and value is allowed;
//   - obsolete line folding (a line starting with SP/HTAB) is tolerated inside headers ward
//     neither reads nor rewrites, and forwarded as it came. It is an error after the
//     start-line, inside Content-Length or the identity header, and when the continuation
//     itself reads `<identity name>:` or `<a header ward reads>:` (Via, Route, Max-Forwards,
//     ...: a backend that does not unfold would take it for a header ward never saw);
//   - Content-Length is 1*DIGIT (no sign, no exponent, no list); several are allowed when they
//     agree. Missing and over-limit are the framer's call.
// `out` is reused across messages to keep its allocation.
void parse_message_head(std::string_view head, bool complete, std::string_view identity_name,
                        MessageHead& out);

// A field's value as written after its colon, without the surrounding whitespace and CRLFs.
std::string_view header_value(std::string_view head, const Field& field);

// The response to send back for a request that cannot be relayed, or "" when there is nobody
// to answer. "Far enough to answer" means: the head is a request other than ACK (an ACK never
// gets a response, RFC 3261 section 17), with at least one well-formed Via and exactly one each
// of From, To, Call-ID and CSeq among its complete, well-formed lines. The answer is
//     SIP/2.0 <status> <reason>, every Via, From, To, Call-ID, CSeq, Content-Length: 0
// with those lines copied byte for byte, Vias in request order (section 8.2.6.2). When To
// has no tag, `;tag=ward-<8 hex>` is added: a hash of From, Call-ID and CSeq, so that a
// retransmission gets the same tag, as a stateless server's answer should. `head` and `parsed`
// must be the text and the result of parse_message_head.
std::string error_response(int status, std::string_view head, const MessageHead& parsed);

// The same for a complete message (head and body) as ward holds it after framing.
std::string answer_to(int status, std::string_view message);

}  // namespace ward::sip
