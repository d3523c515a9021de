// SPDX-License-Identifier: Apache-2.0
#pragma once
// Pre-TLS stream negotiation of the receiving entity on a STARTTLS listener (RFC 6120 sections
// 4.2, 4.3, 4.9, 5.3, 5.4), c2s or s2s. Before TLS ward answers the stream itself and the
// backend sees nothing. The engine feeds the client's bytes as they arrive, writes `send`,
// then acts on `proceed` (start TLS on the raw socket), `relay_plaintext` (secure mode off:
// connect the backend and replay) or `close`. No I/O here.
//
// The steps, in the order RFC 6120 section 5 runs them (Negotiation::feed, on_header,
// on_element):
//   1. The initiating entity's header: well-formed, not restricted, <stream> in the streams
//      namespace, content namespace of the listener, version 1.0 or later, `to` served.
//      Any failure: ward's response header first (section 4.9.1.2), then the stream error.
//   2. Response header and features: <starttls/>, with <required/> in secure mode.
//   3. <starttls/> -> <proceed/>, and not one byte more. A byte after <starttls/> -> close.
//   4. Secure mode: anything else before TLS is refused (stanza, db:result -> not-authorized;
//      <auth> -> SASL encryption-required). Secure mode off: anything else -> relay_plaintext.
//
// Secure mode off, ward does not answer the header itself: once it passes, `need_backend` asks
// the engine to open the backend's stream and send the client the backend's header (its `id`
// is what dialback keys are computed over) and features with <starttls/> added; resume() then
// goes on with what the client sent meanwhile.
//
// After TLS (`after_tls`: Direct TLS, or the stream restart after STARTTLS) only the header is
// checked, with two more rules: `to` must repeat the pre-TLS `to` and the TLS server name, and
// on s2s `check_from` decides whether the peer's certificate covers `from`. When it passes
// ward sends nothing (`header_done`): the backend answers.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp {

enum class StreamKind { c2s, s2s };

// Section 4.7.5: "major.minor", each an integer compared numerically; true for 1.0 or later.
bool version_supported(std::string_view version);
bool iequals_ascii(std::string_view a, std::string_view b);
// Attribute values echoed into ward's own XML: all five special characters escaped.
std::string escape_attribute(std::string_view value);

struct NegotiationConfig {
    std::vector<std::string> domains;  // served domains; `to` is matched case-insensitively
    bool secure = true;                // TLS required before anything else
    StreamKind kind = StreamKind::c2s;
    // A fresh, unpredictable stream id (section 4.7.3); injected so tests are deterministic.
    std::function<std::string()> make_stream_id;
    TokenizerLimits limits;

    bool after_tls = false;
    std::string expected_to;  // after STARTTLS: the pre-TLS `to` (configured spelling)
    std::string server_name;  // after TLS: the client's SNI, when it sent one
    // After TLS: "" when the peer's certificate names `from` (absent: ""), else why not.
    std::function<std::string(std::string_view from)> check_from;
};

// What one feed asks of the engine, in this order: write `send`, then either start TLS
// (`proceed`), hand over to the plaintext relay (`relay_plaintext`) or close (`close`).
struct NegotiationActions {
    std::string send;
    bool proceed = false;          // TLS begins right after `send` (which ends with <proceed/>)
    bool relay_plaintext = false;  // secure mode off: the client went on without STARTTLS
    bool close = false;            // close after writing `send`
    bool need_backend = false;     // secure mode off: open the backend's stream, then resume()
    bool header_done = false;      // after TLS: the header passed; connect the backend
    std::string reason;            // why, for the session log line, when `close`; no peer data
};

class Negotiation {
public:
    explicit Negotiation(NegotiationConfig config);

    NegotiationActions feed(std::string_view bytes);
    // After `need_backend`, once the client has the backend's header and features (not before:
    // until then a failure sends ward's own header): what the client sent meanwhile.
    NegotiationActions resume();
    // A failure the engine detected (backend unreachable, deadline passed): ward's header if
    // the client has none yet, the stream error, the close tag. Ends the negotiation.
    NegotiationActions fail(StreamCondition condition, std::string reason);

    // The served domain the client addressed (configured spelling), once the header passed.
    const std::string& domain() const { return domain_; }
    // The client's header, once received (the engine replays it when relaying plaintext).
    const StreamHeader* client_header() const { return header_received_ ? &client_header_ : nullptr; }
    bool finished() const { return state_ == State::done; }
    // After TLS, once the header passed (`header_done`) and nothing but the header was fed:
    // the tokenizer that parsed it, in the header's namespaces, for the relay's guard to go on
    // with (the header is not parsed twice). Otherwise none: bytes after the header belong to
    // the guard, which then parses the header itself. Once taken, the negotiation is done.
    std::optional<StreamTokenizer> take_tokenizer();

private:
    enum class State { expect_header, expect_starttls, done };

    NegotiationActions process(std::vector<TokenizerEvent> events);
    void on_event(const TokenizerEvent& event, NegotiationActions& out);
    void on_header(const StreamHeader& header, NegotiationActions& out);
    void on_element(const StreamElement& element, NegotiationActions& out);
    void send_header(NegotiationActions& out, std::string_view peer_from, bool echo_dialback);
    void stream_error(NegotiationActions& out, StreamCondition condition, std::string reason);
    void finish(NegotiationActions& out, std::string reason);

    NegotiationConfig config_;
    std::optional<StreamTokenizer> tokenizer_;  // none once taken
    State state_ = State::expect_header;
    bool header_sent_ = false;
    bool header_received_ = false;
    bool header_passed_ = false;  // after TLS: the header was accepted (header_done)
    StreamHeader client_header_;
    std::string domain_;
    std::vector<TokenizerEvent> pending_;  // events held back while the engine opens the backend
};

}  // namespace ward::xmpp
