// SPDX-License-Identifier: Apache-2.0
#pragma once
// The XMPP front's shared steps (RFC 6120 sections 4-5, XEP-0368), on a Session: used by the
// inbound (inbound.cpp) and outbound (outbound.cpp) halves of the front.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "proxy/engine/session.hpp"
#include "xmpp/negotiation.hpp"
#include "xmpp/stream_boundary.hpp"
#include "xmpp/stream_guard.hpp"

namespace ward::proxy::xmpp_front {

// Whitespace tolerated between <starttls/> or <proceed/> and the TLS handshake.
constexpr std::size_t kWhitespaceBeforeTls = 1024;

// Section 4.7.3: unpredictable, unique; 128 random bits.
std::string new_stream_id();

// Element caps after TLS: stanzas relayed between servers may be as large as the backend
// accepts (prosody's s2s default: 512 KiB).
xmpp::TokenizerLimits relay_limits();

// The StreamGuard as the relay's filter on the peer's direction.
std::unique_ptr<StreamFilter> guard_filter(std::unique_ptr<xmpp::StreamGuard> guard);

// Consumes the XML whitespace waiting at the head of the socket, without waiting, at most
// `budget` bytes in all. True once something else is there (the ClientHello), the peer closed
// or failed, or the budget is spent: TLS may begin (and fails on more whitespace).
bool drop_whitespace(tcp::socket& socket, std::size_t& budget);

// Waits until TLS may begin on `side`: whitespace before the ClientHello (or ServerHello) is
// dropped. False when the wait failed (deadline, peer gone).
awaitable<bool> skip_whitespace_before_tls(Connection& side);

// Feeds `negotiation` from `side`, writing what it answers, until it asks for more than bytes
// to send; those actions come back with their `send` not yet written. A deadline that passes
// comes back as the <connection-timeout/> failure; nullopt when the peer left. Bytes read are
// appended to `seen` when given.
awaitable<std::optional<xmpp::NegotiationActions>> negotiate(Session& s, Connection& side,
                                                             xmpp::Negotiation& negotiation, std::string* seen);

// Negotiates a header that ward only checks (after TLS, or the local backend's): true once
// it passed, with every byte read in `seen`; otherwise the peer was answered (refused) or left,
// and the session is over.
awaitable<bool> read_header(Session& s, xmpp::Negotiation& negotiation, std::string& seen);

// Reads the stream header and first element the other server sends on `from` and passes them to
// `to`: header verbatim, features without STARTTLS and compression (with an optional
// <starttls/> first), then whatever followed. `watch`, when given, sees every byte read.
awaitable<bool> pass_opening(Session& s, Connection& from, Connection& to, bool offer_starttls,
                             xmpp::StreamBoundary* watch = nullptr);

// The relay's filter on the backend's direction: watches where the backend's stream stands
// (`watch`, primed by pass_opening) and, when the backend fails or closes mid-stream without
// `</stream:stream>`, ends the client's stream with <remote-connection-failed/> if the bytes
// passed on so far allow a well-formed one (at a stanza boundary); otherwise just closes.
std::unique_ptr<StreamFilter> backend_watch_filter(std::unique_ptr<xmpp::StreamBoundary> watch);

// The negotiation refused the peer (`close`, or an after-TLS header that did not pass): its
// reason for the log, its bytes as the last word to the client.
awaitable<void> refuse_stream(Session& s, xmpp::NegotiationActions actions);

}  // namespace ward::proxy::xmpp_front
