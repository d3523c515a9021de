// SPDX-License-Identifier: Apache-2.0
// libFuzzer: SIP edge routing (sip/edge.hpp) through the framer, both ways, the input cut into
// chunks where its first byte says. "@@P" and "@@D" in the input become a valid path token and
// a valid dialog token (Call-ID "fz") of flow 1, so the fuzzer reaches the routing past the MAC.
// Invariants:
//   - what ward sends anywhere (forwarded, diverted, answered) is well-formed SIP: framed again
//     from scratch, it comes out byte for byte, with no framing error;
//   - from the backend, nothing is forwarded (everything is diverted to a flow, answered or
//     dropped), and only to flow 1, the only open one;
//   - no diverted request still has one of ward's inner Route entries on top.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sip/edge.hpp"
#include "sip/framer.hpp"

namespace {

using namespace ward::sip;

const EdgeAddresses kAt{"sip.example.com:5061", "127.0.0.1:5070"};

FlowTokens& tokens() {
    static FlowTokens t;
    return t;
}

struct PeerHook final : HeadHook {
    HeadPlan plan(std::string_view head, const MessageHead& parsed) override {
        return plan_from_peer(head, parsed, kAt, 7, tokens());
    }
};

struct BackendHook final : HeadHook {
    HeadPlan plan(std::string_view head, const MessageHead& parsed) override {
        return plan_from_backend(head, parsed, "sip-in", kAt.inner, tokens(), [](std::uint64_t id) -> std::optional<FlowEnds> {
            if (id != 1) return std::nullopt;
            return FlowEnds{kAt, "sip-in"};
        });
    }
};

void require_well_formed(const std::string& bytes) {
    if (bytes.empty()) return;
    Framer again(Direction::from_backend, {1 << 20, 1 << 20}, std::nullopt);
    const auto out = again.feed(bytes);
    if (out.close || out.forward != bytes || out.mid_message) std::abort();
}

std::string substituted(std::string_view in) {
    static const std::string path = tokens().make(FlowTokens::Kind::path, 1);
    static const std::string dialog = tokens().make(FlowTokens::Kind::dialog, 1, "fz");
    std::string out(in);
    for (const auto& [mark, token] : {std::pair<std::string_view, const std::string&>{"@@P", path}, {"@@D", dialog}}) {
        for (auto at = out.find(mark); at != std::string::npos; at = out.find(mark, at + token.size()))
            out.replace(at, mark.size(), token);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;
    const auto input = substituted(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    const std::string_view in(input);
    static const auto stamp = IdentityStamp::make("X-Ward-TLS-Peer", "peer.example", "sip", "ctx");
    PeerHook peer;
    BackendHook backend;
    for (auto direction : {Direction::from_peer, Direction::from_backend}) {
        const bool from_peer = direction == Direction::from_peer;
        HeadHook* hook = from_peer ? static_cast<HeadHook*>(&peer) : &backend;
        Framer framer(direction, {4096, 8192}, from_peer ? std::optional(*stamp) : std::nullopt, hook);
        for (std::size_t pos = 0; pos < in.size() && !framer.closed(); pos += step) {
            auto out = framer.feed(in.substr(pos, step));
            require_well_formed(out.forward);
            if (!from_peer && !out.forward.empty()) std::abort();
            for (const auto& d : out.diverted) {
                if (from_peer || d.to != 1) std::abort();
                require_well_formed(d.message);
                const auto end = d.message.find("\r\n\r\n");
                MessageHead parsed;
                parse_message_head(std::string_view(d.message).substr(0, end + 4), true, {}, parsed);
                for (const auto& f : parsed.fields) {
                    if (f.kind != FieldKind::route) continue;
                    auto value = std::string_view(d.message).substr(f.begin, f.end - f.begin);
                    value = value.substr(value.find(':') + 1);
                    const auto values = split_route_values(value.substr(0, value.size() - 2));
                    if (!values || values->empty()) std::abort();  // ward wrote it: it reads
                    const auto uri = parse_sip_uri(values->front().uri);
                    if (uri && uri->host_port == kAt.inner) std::abort();
                    break;
                }
            }
            // Answers are complete responses, those before a close too (pongs, CRLFs, go first).
            require_well_formed(out.reply.substr(out.reply.find_first_not_of("\r\n") == std::string::npos
                                                                      ? out.reply.size()
                                                                      : out.reply.find_first_not_of("\r\n")));
        }
    }
    return 0;
}
