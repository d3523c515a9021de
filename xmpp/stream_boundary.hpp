// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where the other server's stream stands, byte by byte, without holding any of it: whether the
// bytes passed on so far end between two children of the stream element (a stanza boundary),
// inside one, or after `</stream:stream>`. The relay watches the backend's direction with it so
// that, when the backend fails mid-stream, ward can still end the client's stream with a stream
// error (RFC 6120 section 4.9), which is only well-formed XML at a boundary.
//
// The bytes come from ward's own backend: nothing is refused here. Anything expat cannot parse
// (or a DOCTYPE, which XMPP forbids) makes the position unknown for good, and then no error is
// written. Memory: expat's buffer for the token in progress, nothing else.
#include <cstdint>
#include <memory>
#include <string_view>

namespace ward::xmpp {

class StreamBoundary {
public:
    StreamBoundary();
    ~StreamBoundary();
    StreamBoundary(const StreamBoundary&) = delete;
    StreamBoundary& operator=(const StreamBoundary&) = delete;

    // The stream's bytes in order, from its first (the XML declaration or header) on.
    void feed(std::string_view bytes);

    // The stream element is open and everything after its last complete child (or its header)
    // is XML whitespace: a stream error written now is well-formed.
    bool at_boundary() const;
    // `</stream:stream>` went by: the stream ended as it should.
    bool closed() const;
    // The position is unknown (not XML, or not a stream).
    bool lost() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::xmpp
