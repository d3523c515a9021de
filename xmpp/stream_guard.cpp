// SPDX-License-Identifier: Apache-2.0
#include "xmpp/stream_guard.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <variant>

#include "xmpp/negotiation.hpp"

namespace ward::xmpp {

namespace {

constexpr std::string_view kTlsFailure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
constexpr std::string_view kNotAuthorized =
    "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";

// An attribute of a complete element's start tag (pugixml; the element was well-formed to
// expat already). Prefixes are not resolved: `from` and `to` are never prefixed.
std::string attribute_of(std::string_view raw, const char* name) {
    pugi::xml_document doc;
    if (!doc.load_buffer(raw.data(), raw.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
    return doc.first_child().attribute(name).value();
}

}  // namespace

StreamGuard::StreamGuard(std::string_view peer_header, std::function<bool(std::string_view)> covers,
                         TokenizerLimits limits)
    : covers_(std::move(covers)), tokenizer_(limits) {
    // The header event itself was checked by the negotiation. A header that closes itself
    // (`<stream:stream .../>`) ends the peer's stream: nothing after it goes on.
    for (const TokenizerEvent& event : tokenizer_.feed(peer_header))
        if (std::holds_alternative<StreamClosed>(event)) peer_closed_ = true;
    pending_base_ = tokenizer_.bytes_fed();
}

StreamGuard::StreamGuard(StreamTokenizer primed, std::function<bool(std::string_view)> covers,
                         TokenizerLimits limits)
    : covers_(std::move(covers)), tokenizer_(std::move(primed)) {
    // Only a tokenizer inside an open stream with nothing held: one still in its header would
    // take the peer's next start tag for the header, in namespaces the peer chose.
    if (!tokenizer_.in_stream() || tokenizer_.held_bytes() != 0)
        throw std::invalid_argument("StreamGuard: the tokenizer has not just parsed a stream header");
    tokenizer_.set_limits(limits);
    pending_base_ = tokenizer_.bytes_fed();
}

GuardOutput StreamGuard::feed(std::string_view bytes) {
    GuardOutput out;
    if (bytes.empty() || closed_) return out;
    if (peer_closed_) {
        after_close(bytes, out);
        return out;
    }
    if (passthrough_) {
        out.forward.assign(bytes);
        return out;
    }
    pending_.append(bytes);
    std::uint64_t complete = pending_base_;  // end of the last element seen in this feed
    for (const TokenizerEvent& event : tokenizer_.feed(bytes)) {
        if (const auto* element = std::get_if<StreamElement>(&event)) {
            on_element(*element, out);
            if (out.close) return out;
            complete = element->end_offset;
            if (!covers_) {
                // c2s: STARTTLS would have been the first element; from here on, bytes pass.
                passthrough_ = true;
                out.forward += pending_;
                pending_.clear();
                return out;
            }
        } else if (const auto* closed = std::get_if<StreamClosed>(&event)) {
            // The peer's stream ends with this tag: it goes on, and nothing after it (a peer
            // has nothing to say after its close tag but the end of TLS).
            forward_until(closed->end_offset, out);
            const std::string rest = std::move(pending_);
            pending_.clear();
            peer_closed_ = true;
            after_close(rest, out);
            return out;
        } else if (const auto* error = std::get_if<TokenizerError>(&event)) {
            // The complete elements before the error go on; the broken rest is dropped.
            forward_until(complete, out);
            pending_.clear();
            out.reply = "<stream:error><" + std::string(condition_name(error->condition)) +
                        " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
            out.close = true;
            out.reason = "stream error from ward: " + error->detail;
            closed_ = true;
            return out;
        } else if (std::holds_alternative<TrailingAfterStarttls>(event)) {
            // Unreachable: the element before it closed the stream. Never forward unparsed bytes.
            forward_until(complete, out);
            pending_.clear();
            out.close = true;
            out.reason = "bytes after a TLS negotiation element";
            closed_ = true;
            return out;
        }
    }
    // Everything up to the element in progress goes on.
    forward_until(tokenizer_.bytes_fed() - tokenizer_.held_bytes(), out);
    return out;
}

// After the peer's close tag it has nothing to say but the end of TLS: whitespace is dropped,
// anything else ends the session (the backend may be gone already, and dropped bytes would
// keep an ended stream open).
void StreamGuard::after_close(std::string_view bytes, GuardOutput& out) {
    if (std::all_of(bytes.begin(), bytes.end(), is_xml_space))
        return;
    out.close = true;
    out.reason = "bytes after the peer's close tag";
    closed_ = true;
}

void StreamGuard::forward_until(std::uint64_t offset, GuardOutput& out) {
    if (offset <= pending_base_) return;
    const auto n = static_cast<std::size_t>(offset - pending_base_);
    out.forward.append(pending_, 0, n);
    pending_.erase(0, n);
    pending_base_ = offset;
}

void StreamGuard::on_element(const StreamElement& element, GuardOutput& out) {
    const std::uint64_t start = element.end_offset - element.raw.size();
    if (element.ns == kTlsNs) {
        // <starttls/> on an encrypted stream (section 5.4.2.2), or any other TLS negotiation
        // element (<proceed/> would stop the tokenizer): failure, and the stream ends.
        forward_until(start, out);
        pending_.clear();
        out.reply.assign(kTlsFailure);
        out.close = true;
        out.reason = "<" + element.local_name + "/> of the TLS namespace on an encrypted stream";
        closed_ = true;
        return;
    }
    if (covers_ && element.ns == kDialbackNs && element.local_name == "result") {
        const std::string from = attribute_of(element.raw, "from");
        if (covers_(from)) return;
        // A peer claiming a domain its certificate does not name: the stream ends with
        // not-authorized, as a wrong 'from' on the header does. (A dialback error reply would
        // keep the stream, but ward cannot place it between the backend's stanzas.)
        forward_until(start, out);
        pending_.clear();
        out.reply.assign(kNotAuthorized);
        out.close = true;
        out.reason = "dialback for '" + from + "', which the peer's certificate does not name, refused";
        closed_ = true;
    }
}

}  // namespace ward::xmpp
