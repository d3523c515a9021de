// SPDX-License-Identifier: Apache-2.0
#pragma once
// WebSocket (RFC 6455) frames as ward relays them: read from one side (client frames must be
// masked, server frames must not be), reassembled into whole messages up to a cap, control
// frames reported as they come; and written again by ward, one frame per message. Fed the bytes
// as they arrive, in any chunking; no I/O here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ward::xmpp::web {

// Close codes (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never sent: a close frame without a code
inline constexpr std::uint16_t invalid_data = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace close_code

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct WsEvent {
    // message: a whole text message (UTF-8 checked); ping, pong: their payload; close: `code`
    // (no_status when the frame had none) and `payload` the reason; error: the peer broke the
    // protocol, `code` is what to close with. After close or error the reader is spent.
    enum class Kind { message, ping, pong, close, error } kind = Kind::message;
    std::string payload;
    std::uint16_t code = 0;
    std::string why;  // error: for the log; never contains the payload
};

class WsReader {
public:
    // `from_client`: frames must be masked (else they must not be).
    WsReader(bool from_client, std::size_t max_message);

    std::vector<WsEvent> feed(std::string_view bytes);
    bool mid_message() const { return !held_.empty() || in_message_; }
    bool spent() const { return spent_; }

private:
    WsEvent fail(std::uint16_t code, std::string why);

    bool from_client_;
    std::size_t max_message_;
    std::string held_;     // bytes of the frame in progress
    std::string message_;  // text of the fragmented message so far
    bool in_message_ = false;
    bool spent_ = false;
};

// One frame, FIN set; `mask`: with a random masking key (what a client sends).
std::string ws_frame(Opcode opcode, std::string_view payload, bool mask);
// A close frame with `code` (none when no_status) and a reason (cut to fit 125 bytes).
std::string ws_close(std::uint16_t code, std::string_view reason, bool mask);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2).
std::string ws_accept(std::string_view key);
// A Sec-WebSocket-Key: base64 of 16 bytes.
bool valid_ws_key(std::string_view key);
// Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace ward::xmpp::web
