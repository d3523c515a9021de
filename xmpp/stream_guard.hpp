// SPDX-License-Identifier: Apache-2.0
#pragma once
// What ward still checks in the peer's stream once TLS is up and the backend answers (the
// direction from the TLS peer to the backend). The peer's stream header has already been
// checked; the guard is primed with it so that the elements after it parse in its namespaces.
//
//   - <starttls/> on an encrypted stream (Direct TLS, or a second STARTTLS), or any element of
//     the TLS namespace, gets <failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> and the stream
//     is closed (RFC 6120 section 5.4.2.2); the backend never sees it.
//   - s2s (`covers` set): a piggybacked <db:result from='X'> (XEP-0220 section 2.4, RFC 7590)
//     for a domain X the peer's certificate does not name is never forwarded: the stream ends
//     with <not-authorized/>. Dialback for covered domains passes through to the backend.
//
// c2s needs only the first element (STARTTLS comes first or not at all): after it the guard
// passes bytes through untouched. s2s keeps parsing; bytes are forwarded up to the end of the
// last complete element (whitespace keepalives included), the element in progress is held,
// within the tokenizer's element cap.
#include <functional>
#include <string>
#include <string_view>

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp {

struct GuardOutput {
    std::string forward;  // on to the backend
    std::string reply;    // back to the peer
    bool close = false;
    std::string reason;
};

class StreamGuard {
public:
    // `covers(domain)`: whether the peer's certificate names `domain`; empty for c2s.
    StreamGuard(std::string_view peer_header, std::function<bool(std::string_view)> covers, TokenizerLimits limits);
    // The same with the tokenizer that has parsed the peer's header and nothing after it
    // (Negotiation::take_tokenizer): the header is not parsed a second time.
    StreamGuard(StreamTokenizer primed, std::function<bool(std::string_view)> covers, TokenizerLimits limits);

    GuardOutput feed(std::string_view bytes);
    // Bytes fed and neither forwarded nor dropped yet (for tests of the memory bound).
    std::size_t held_bytes() const { return pending_.size(); }

private:
    void on_element(const StreamElement& element, GuardOutput& out);
    void forward_until(std::uint64_t offset, GuardOutput& out);
    void after_close(std::string_view bytes, GuardOutput& out);

    std::function<bool(std::string_view)> covers_;
    StreamTokenizer tokenizer_;
    bool passthrough_ = false;
    bool closed_ = false;         // the guard ended the stream (or said close): nothing more
    bool peer_closed_ = false;    // the peer's close tag went on: only whitespace may follow
    std::string pending_;         // bytes fed, not yet forwarded or dropped
    std::uint64_t pending_base_;  // stream offset of pending_[0]
};

}  // namespace ward::xmpp
