// SPDX-License-Identifier: Apache-2.0
#include "xmpp/web/websocket.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>

#include "tls/crypto.hpp"

namespace ward::xmpp::web {

namespace {

// Close codes a peer may send (section 7.4): the defined ones that may go on the wire, and
// 3000-4999 for libraries and applications.
bool sendable_code(std::uint16_t code) {
    if (code >= 3000 && code <= 4999) return true;
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

}  // namespace

WsReader::WsReader(bool from_client, std::size_t max_message) : from_client_(from_client), max_message_(max_message) {}

WsEvent WsReader::fail(std::uint16_t code, std::string why) {
    spent_ = true;
    held_.clear();
    message_.clear();
    WsEvent e;
    e.kind = WsEvent::Kind::error;
    e.code = code;
    e.why = std::move(why);
    return e;
}

std::vector<WsEvent> WsReader::feed(std::string_view bytes) {
    std::vector<WsEvent> events;
    if (spent_) return events;
    held_.append(bytes);
    std::size_t at = 0;
    for (;;) {
        const std::string_view rest = std::string_view(held_).substr(at);
        if (rest.size() < 2) break;
        const auto b0 = static_cast<unsigned char>(rest[0]);
        const auto b1 = static_cast<unsigned char>(rest[1]);
        const bool fin = b0 & 0x80;
        const auto opcode = static_cast<std::uint8_t>(b0 & 0x0f);
        if (b0 & 0x70) {
            events.push_back(fail(close_code::protocol_error, "reserved bits set (no extension was agreed)"));
            return events;
        }
        const bool masked = b1 & 0x80;
        if (masked != from_client_) {
            events.push_back(fail(close_code::protocol_error,
                                  from_client_ ? "an unmasked frame from the client" : "a masked frame from the server"));
            return events;
        }
        std::uint64_t length = b1 & 0x7f;
        std::size_t header = 2;
        if (length == 126) {
            if (rest.size() < 4) break;
            length = (static_cast<std::uint64_t>(static_cast<unsigned char>(rest[2])) << 8) |
                     static_cast<unsigned char>(rest[3]);
            header = 4;
        } else if (length == 127) {
            if (rest.size() < 10) break;
            length = 0;
            for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<unsigned char>(rest[i]);
            if (length >> 63) {
                events.push_back(fail(close_code::protocol_error, "a frame length with the top bit set"));
                return events;
            }
            header = 10;
        }
        const bool control = opcode >= 8;
        if (control) {
            if (opcode > 10) {
                events.push_back(fail(close_code::protocol_error, "a reserved opcode"));
                return events;
            }
            if (!fin || length > 125) {
                events.push_back(fail(close_code::protocol_error, "a fragmented or oversized control frame"));
                return events;
            }
        } else {
            if (opcode == static_cast<std::uint8_t>(Opcode::binary)) {
                events.push_back(fail(close_code::unsupported_data, "a binary message (XMPP uses text, RFC 7395)"));
                return events;
            }
            if (opcode != 0 && opcode != 1) {
                events.push_back(fail(close_code::protocol_error, "a reserved opcode"));
                return events;
            }
            if (opcode == 0 && !in_message_) {
                events.push_back(fail(close_code::protocol_error, "a continuation frame outside a message"));
                return events;
            }
            if (opcode == 1 && in_message_) {
                events.push_back(fail(close_code::protocol_error, "a new message inside a fragmented one"));
                return events;
            }
            if (length > max_message_ || message_.size() + length > max_message_) {
                events.push_back(fail(close_code::too_big, "a message over " + std::to_string(max_message_) + " bytes"));
                return events;
            }
        }
        if (masked) header += 4;
        if (rest.size() < header + length) break;
        std::string payload(rest.substr(header, static_cast<std::size_t>(length)));
        if (masked) {
            const auto* key = reinterpret_cast<const unsigned char*>(rest.data() + header - 4);
            for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
        }
        at += header + static_cast<std::size_t>(length);
        if (control) {
            WsEvent e;
            if (opcode == static_cast<std::uint8_t>(Opcode::ping)) {
                e.kind = WsEvent::Kind::ping;
                e.payload = std::move(payload);
            } else if (opcode == static_cast<std::uint8_t>(Opcode::pong)) {
                e.kind = WsEvent::Kind::pong;
                e.payload = std::move(payload);
            } else {
                e.kind = WsEvent::Kind::close;
                e.code = close_code::no_status;
                if (payload.size() == 1) {
                    events.push_back(fail(close_code::protocol_error, "a close frame with a one-byte payload"));
                    return events;
                }
                if (payload.size() >= 2) {
                    e.code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                        static_cast<unsigned char>(payload[1]));
                    e.payload = payload.substr(2);
                    if (!sendable_code(e.code)) {
                        events.push_back(fail(close_code::protocol_error, "a close code that may not be sent"));
                        return events;
                    }
                    if (!valid_utf8(e.payload)) {
                        events.push_back(fail(close_code::invalid_data, "a close reason that is not UTF-8"));
                        return events;
                    }
                }
                spent_ = true;
                held_.clear();
                events.push_back(std::move(e));
                return events;
            }
            events.push_back(std::move(e));
            continue;
        }
        message_ += payload;
        in_message_ = !fin;
        if (fin) {
            if (!valid_utf8(message_)) {
                events.push_back(fail(close_code::invalid_data, "a text message that is not UTF-8"));
                return events;
            }
            WsEvent e;
            e.kind = WsEvent::Kind::message;
            e.payload = std::move(message_);
            message_.clear();
            events.push_back(std::move(e));
        }
    }
    held_.erase(0, at);
    return events;
}

std::string ws_frame(Opcode opcode, std::string_view payload, bool mask) {
    std::string out;
    out.reserve(payload.size() + 14);
    out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode)));
    const std::uint8_t mask_bit = mask ? 0x80 : 0;
    const auto n = static_cast<std::uint64_t>(payload.size());
    if (n < 126) {
        out.push_back(static_cast<char>(mask_bit | n));
    } else if (n <= 0xffff) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
    }
    if (!mask) {
        out.append(payload);
        return out;
    }
    std::array<unsigned char, 4> key{};
    if (!crypto::random_bytes(key)) throw std::runtime_error("no random bytes for a WebSocket mask");
    out.append(reinterpret_cast<const char*>(key.data()), key.size());
    const auto start = out.size();
    out.append(payload);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out[start + i] = static_cast<char>(out[start + i] ^ key[i % 4]);
    return out;
}

std::string ws_close(std::uint16_t code, std::string_view reason, bool mask) {
    std::string payload;
    if (code != close_code::no_status) {
        payload.push_back(static_cast<char>(code >> 8));
        payload.push_back(static_cast<char>(code & 0xff));
        // Cut at 123 bytes, on a character boundary.
        auto cut = reason.substr(0, 123);
        while (!cut.empty() && !valid_utf8(cut)) cut.remove_suffix(1);
        payload.append(cut);
    }
    return ws_frame(Opcode::close, payload, mask);
}

std::string ws_accept(std::string_view key) {
    const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    // SHA-1 here is the handshake's fixed transform, not a signature: the FIPS provider has it.
    const auto digest = crypto::sha1(crypto::bytes(input));
    if (!digest) throw std::runtime_error("SHA-1 is not available");
    std::array<unsigned char, 64> out{};
    const int n = EVP_EncodeBlock(out.data(), digest->data(), static_cast<int>(digest->size()));
    return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

bool valid_ws_key(std::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (std::size_t i = 0; i < 22; ++i) {
        const char c = key[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
    }
    // The last data character carries 2 bits: the 4 unused bits must be zero.
    return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    const auto n = s.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

}  // namespace ward::xmpp::web
