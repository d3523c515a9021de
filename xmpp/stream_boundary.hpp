// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where the other server's stream stands, byte by byte, without holding any of it: whether the
// bytes passed on so far end between two children of the stream element (a stanza boundary),
// inside one, or after the stream's end tag. The relay watches the backend's direction with it
// so that, when the backend fails mid-stream, ward can still end the client's stream with a
// stream error (RFC 6120 section 4.9), which is only well-formed XML at a boundary.
//
// Not a parser: a scanner of XML's lexical structure (tags, quoted attribute values, comments,
// processing instructions, CDATA), in constant memory and one pass, whatever the bytes are: the
// outbound direction's "backend" is a remote server. It keeps the depth, the stream element's
// name (at most 64 bytes of it) and whether anything but whitespace followed the last boundary.
// A stream restart (RFC 6120 section 4.3.3: the server's new header, with or without an XML
// declaration, after the old one's children) replaces the stream element. A DOCTYPE, a name too
// long, or markup that cannot be XML makes the position unknown for good; then no error is
// written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ward::xmpp {

class StreamBoundary {
public:
    // The stream's bytes in order, from its first (the XML declaration or header) on.
    void feed(std::string_view bytes);

    // The stream element is open and everything after its last complete child (or its header)
    // is XML whitespace: a stream error written now is well-formed.
    bool at_boundary() const;
    // The stream element's end tag went by: the stream ended as it should.
    bool closed() const { return closed_; }
    // The position is unknown (not XML, or not a stream).
    bool lost() const { return lost_; }
    // `<P:error><condition xmlns='...'/></P:error></P:stream>` in the stream element's own
    // prefix, when at_boundary() and the element is `P:stream`; otherwise empty.
    std::string error(std::string_view condition) const;

private:
    enum class State {
        text,         // between markup
        open,         // after `<`
        start_name,   // a start tag's name
        start_tag,    // a start tag after its name
        quoted,       // an attribute value (quote_ ends it)
        empty_slash,  // `/` inside a start tag
        end_tag,      // `</...`
        bang,         // `<!`: a comment, CDATA or (refused) DOCTYPE
        comment,      // `<!--` ... `-->`
        cdata,        // `<![CDATA[` ... `]]>`
        pi,           // `<?` ... `?>`
    };
    void step(char c);
    void start_tag_done(bool empty);
    void end_tag_done();
    void lose() { lost_ = true; }

    State state_ = State::text;
    std::size_t depth_ = 0;  // the stream element counts as 1
    bool opened_ = false;
    bool closed_ = false;
    bool lost_ = false;
    bool content_since_ = false;  // non-whitespace (or markup) since the last boundary
    bool content_before_ = false;  // content_since_ before the markup being read
    char quote_ = 0;
    std::string name_;        // the tag name being read (bounded)
    std::string root_;        // the stream element's name
    std::string bang_;        // the bytes after `<!` until the construct is known
    int run_ = 0;             // `-`, `]` or `?` seen in a row, for the end of a construct
};

}  // namespace ward::xmpp
