// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the SIP framer, both directions, the input cut into chunks where its first byte
// says, with a differential check: where the framer (responses: relayed byte for byte) accepted
// the whole input, what it forwarded and the pings it answered must be exactly what a plain
// reference reading of RFC 3261 section 18.3 finds in one pass (CRLFs between messages, each
// head to its CRLFCRLF, then Content-Length body bytes). Inputs whose heads fold lines or repeat
// Content-Length are not compared (the reference does not read them). ward's own answers must
// frame again as whole messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "sip/framer.hpp"

namespace {

struct Reference {
    std::string messages;  // complete messages, in order
    int pings = 0;
    bool comparable = true;
};

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The body length a head announces; nullopt where the reference does not compare.
std::optional<std::size_t> content_length(std::string_view head, bool& comparable) {
    std::optional<std::size_t> length;
    std::size_t at = head.find("\r\n") + 2;  // past the start-line
    while (at < head.size()) {
        const auto end = head.find("\r\n", at);
        const auto line = head.substr(at, end - at);
        at = end + 2;
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') comparable = false;  // a folded line
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const auto name = trim(line.substr(0, colon));
        if (!iequal(name, "content-length") && !iequal(name, "l")) continue;
        if (length) comparable = false;  // more than one
        const auto value = trim(line.substr(colon + 1));
        if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string_view::npos) {
            comparable = false;
            return std::nullopt;
        }
        length = std::stoul(std::string(value));
    }
    return length;
}

Reference reference(std::string_view in) {
    Reference r;
    std::size_t at = 0;
    for (;;) {
        int crlfs = 0;
        while (in.substr(at, 2) == "\r\n") {
            at += 2;
            ++crlfs;
        }
        r.pings += crlfs / 2;
        if (at >= in.size()) return r;
        const auto end = in.find("\r\n\r\n", at);
        if (end == std::string_view::npos) return r;  // an incomplete head: nothing more
        const auto head = in.substr(at, end + 4 - at);
        const auto length = content_length(head, r.comparable);
        if (!r.comparable || !length) {
            r.comparable = false;
            return r;
        }
        if (end + 4 + *length > in.size()) return r;  // an incomplete body
        r.messages.append(in.substr(at, end + 4 + *length - at));
        at = end + 4 + *length;
    }
}

// ward's own answers (400, 513) frame again as whole, well-formed messages.
void require_well_formed_reply(std::string_view reply) {
    const auto start = reply.find_first_not_of("\r\n");
    if (start == std::string_view::npos) return;
    reply.remove_prefix(start);
    ward::sip::Framer again(ward::sip::Direction::from_backend, {1 << 20, 1 << 20}, std::nullopt);
    const auto out = again.feed(reply);
    if (out.close || out.forward != reply || out.mid_message) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;  // chunk size: every split point gets exercised
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    static const auto stamp = ward::sip::IdentityStamp::make("X-Ward-TLS-Peer", "peer.example", "sip", "ctx");
    for (auto direction : {ward::sip::Direction::from_peer, ward::sip::Direction::from_backend}) {
        ward::sip::Framer framer(direction, {4096, 8192},
                                 direction == ward::sip::Direction::from_peer ? std::optional(*stamp) : std::nullopt);
        std::string forwarded;
        int pongs = 0;
        for (std::size_t pos = 0; pos < in.size() && !framer.closed(); pos += step) {
            auto out = framer.feed(in.substr(pos, step));
            forwarded += out.forward;
            pongs += out.pongs;
            require_well_formed_reply(out.reply);
        }
        if (direction != ward::sip::Direction::from_backend || framer.closed()) continue;
        const auto expected = reference(in);
        if (!expected.comparable) continue;
        if (forwarded != expected.messages || pongs != expected.pings) std::abort();
    }
    return 0;
}
