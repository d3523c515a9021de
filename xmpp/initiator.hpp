// SPDX-License-Identifier: Apache-2.0
#pragma once
// The initiating entity's side of STARTTLS on an outbound s2s stream (RFC 6120 sections 5.4.1,
// 5.4.2), which ward speaks to a remote server before the local backend's stream is replayed
// over TLS:
//   ward:   <stream:stream from=local to=remote xmlns='jabber:server' version='1.0'>
//   remote: header, then <stream:features> with <starttls/>
//   ward:   <starttls/>
//   remote: <proceed/>, and not one byte more (a byte after it is an injection: close)
// Anything else ends the negotiation with `close` and a reason: no STARTTLS offered (ward
// never sends the backend's stream in the clear), <failure/>, a stream error, bad XML.
// No I/O here.
#include <string>
#include <string_view>

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp {

struct InitiatorConfig {
    std::string from;  // the local domain
    std::string to;    // the remote domain
    TokenizerLimits limits;
};

struct InitiatorActions {
    std::string send;
    bool start_tls = false;  // after `send`: the TLS handshake, as client
    bool close = false;      // after `send`
    std::string reason;
};

class Initiator {
public:
    explicit Initiator(InitiatorConfig config);

    // ward's stream header, sent first.
    std::string opening() const;
    InitiatorActions feed(std::string_view bytes);

private:
    enum class State { expect_header, expect_features, expect_proceed, done };
    void on_event(const TokenizerEvent& event, InitiatorActions& out);
    void fail(InitiatorActions& out, std::string reason, StreamCondition condition);

    InitiatorConfig config_;
    StreamTokenizer tokenizer_;
    State state_ = State::expect_header;
};

}  // namespace ward::xmpp
