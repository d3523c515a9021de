// SPDX-License-Identifier: Apache-2.0
#pragma once
// Incremental tokenizer for the pre-TLS XMPP stream (RFC 6120 sections 4, 11), over expat. The
// engine feeds the bytes as they arrive, in any chunking; each feed returns the events those
// bytes completed. No I/O here.
//
// What it reports:
//   - the stream header, once, with its resolved namespace and its attributes as written
//     (namespace declarations included, as `xmlns` / `xmlns:p`), and its raw bytes;
//   - each complete child of the stream element (depth 1), with its resolved namespace, local
//     name, raw bytes and the stream offset just past its `>`;
//   - `</stream:stream>`;
//   - an error carrying the stream error condition to send. After an error the tokenizer is
//     spent: later feeds return nothing.
//
// Restricted XML (section 11.1) is refused at its first token, so nothing is ever expanded:
// DOCTYPE (hence any entity declaration, billion laughs, XXE), comments, processing
// instructions. Undefined entity references are expat errors (not-well-formed). Only UTF-8 is
// accepted (section 11.6): an XML declaration naming another encoding, or a stream starting
// like UTF-16/32, is unsupported-encoding.
//
// STARTTLS (section 5.4.2.3): parsing stops at the `>` of `<starttls xmlns='...xmpp-tls'/>`
// (what the initiating entity sends) and of `<proceed xmlns='...xmpp-tls'/>` (what the
// receiving entity answers): TLS starts right after either. Any byte after it, in the same feed
// or a later one, is an injection attempt (CVE-2011-0411 class) and is reported as
// TrailingAfterStarttls; those bytes are never parsed. XML whitespace alone is not: it cannot
// carry a command, and go-xmpp (go-sendxmpp) writes "<starttls .../>\n"; it is dropped.
//
// Memory: the raw bytes kept are those since the last depth-1 boundary (end of the header, of
// a child, of whitespace between children); that span is capped (header_size before the
// header, element_size after), which also bounds what expat buffers for a partial token.
//
// The events and their order do not depend on how the input is split into feeds: every cap is
// checked both against the bytes held after a feed and against the end of each parse event.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ward::xmpp {

// Stream error conditions ward sends itself (RFC 6120 section 4.9.3).
enum class StreamCondition {
    bad_namespace_prefix,
    connection_timeout,
    host_unknown,
    improper_addressing,
    invalid_namespace,
    not_authorized,
    not_well_formed,
    policy_violation,
    remote_connection_failed,
    restricted_xml,
    unsupported_encoding,
    unsupported_version,
    undefined_condition,
};

// The element name as it goes on the wire: "not-well-formed".
std::string_view condition_name(StreamCondition condition);

inline constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view kDialbackNs = "jabber:server:dialback";
inline constexpr std::string_view kStreamErrorNs = "urn:ietf:params:xml:ns:xmpp-streams";

// XML's white space (section 2.3 of XML 1.0): what may stand between a stream's children.
bool is_xml_space(char c);

struct TokenizerLimits {
    std::size_t max_header_size = 4 * 1024;    // XML declaration + stream header, bytes
    std::size_t max_element_size = 64 * 1024;   // one child of the stream, bytes
    std::size_t max_depth = 32;                 // a child of the stream is at depth 1
    std::size_t max_attributes = 64;            // per element, namespace declarations included
    // What expat keeps for a stream's whole life, bounded: it reuses the buffers of closed
    // elements' names and of their namespace bindings, each grown to the longest it has held.
    std::size_t max_name_size = 2 * 1024;       // an element or attribute name, its namespace included
    std::size_t max_namespace_size = 1024;      // a namespace declaration's URI
    std::size_t max_open_namespaces = 256;      // declarations in force in the open elements
    // Expat keeps every distinct name of a stream (and an input buffer as large as the largest
    // element) for the parser's life. Past this much, at the end of a child of the stream, the
    // parser is replaced by a fresh one that has read the header again: nothing is refused.
    std::size_t max_parser_memory = 256 * 1024;
};

struct StreamHeader {
    std::string qname;       // as written: "stream:stream"
    std::string ns;          // resolved namespace of the element ("" if none)
    std::string local_name;  // "stream"
    // As written, in document order for each kind: namespace declarations first (`xmlns`,
    // `xmlns:stream`, ...), then the other attributes (`to`, `version`, `xml:lang`, ...).
    std::vector<std::pair<std::string, std::string>> attributes;
    std::string raw;         // the bytes from the start of the stream through the header's `>`

    // The value of the attribute written as `qname`, if present.
    std::optional<std::string_view> attribute(std::string_view name) const;
};

struct StreamElement {
    std::string ns;           // resolved namespace, e.g. "jabber:client"
    std::string local_name;   // e.g. "message"
    std::string raw;          // the element's bytes, `<` through `>`, as received
    std::uint64_t end_offset = 0;  // stream offset just past the element's `>`
};

struct StreamClosed {
    std::uint64_t end_offset = 0;  // stream offset just past the closing tag's `>`
};

struct TokenizerError {
    StreamCondition condition;
    std::string detail;  // for the log line; never contains peer data
};

// Bytes followed `<starttls/>`: the connection must close, no TLS.
struct TrailingAfterStarttls {
    std::uint64_t offset = 0;  // stream offset of the first such byte (= end of starttls)
};

using TokenizerEvent = std::variant<StreamHeader, StreamElement, StreamClosed, TokenizerError, TrailingAfterStarttls>;

class StreamTokenizer {
public:
    explicit StreamTokenizer(TokenizerLimits limits = {});
    ~StreamTokenizer();
    StreamTokenizer(const StreamTokenizer&) = delete;
    StreamTokenizer& operator=(const StreamTokenizer&) = delete;
    // Moves the parse as it stands (a moved-from tokenizer may only be destroyed).
    StreamTokenizer(StreamTokenizer&&) noexcept;
    StreamTokenizer& operator=(StreamTokenizer&&) noexcept;

    std::vector<TokenizerEvent> feed(std::string_view bytes);
    // New caps for what is fed from now on (a stream negotiated under one set, relayed under
    // another).
    void set_limits(TokenizerLimits limits);

    // True once an error, the stream close, starttls or trailing bytes ended parsing.
    bool finished() const;
    // True while the stream is open: its header parsed, nothing has ended the parse.
    bool in_stream() const;
    // Total bytes fed so far.
    std::uint64_t bytes_fed() const;
    // Raw bytes kept for the element in progress (for tests of the memory bound).
    std::size_t held_bytes() const;
    // Expat's memory for this stream now, and how often its parser was replaced (for tests).
    std::size_t parser_memory() const;
    std::uint64_t parser_replacements() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::xmpp
