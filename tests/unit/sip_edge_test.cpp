// SPDX-License-Identifier: Apache-2.0
// SIP edge routing without sockets: flow tokens (made, verified, altered, expired), the Route
// value grammar ward reads, and the head edits of both directions (Record-Route pair, Path with
// ;ob, Route removal, Max-Forwards, the answers 400/403/430/483) on messages shaped like the
// ones Kamailio and sipp send, each framed whole, split in two at every index and byte by byte.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "sip/edge.hpp"
#include "sip/flow_token.hpp"
#include "sip/framer.hpp"
#include "sip/identity_stamp.hpp"

using namespace ward::sip;

namespace {

const EdgeAddresses kAt{"sip.example.com:5061", "127.0.0.1:5070"};

// Everything the framer produced, added up.
struct Collected {
    std::string forward;
    std::string reply;
    std::vector<std::pair<std::uint64_t, std::string>> diverted;
    bool close = false;
    bool operator==(const Collected&) const = default;
};

template <class Hook>
Collected frame(Direction direction, const std::vector<std::string_view>& chunks, Hook& hook,
                std::optional<IdentityStamp> stamp = std::nullopt) {
    Framer framer(direction, {}, std::move(stamp), &hook);
    Collected c;
    for (const auto chunk : chunks) {
        auto out = framer.feed(chunk);
        c.forward += out.forward;
        c.reply += out.reply;
        for (auto& d : out.diverted) c.diverted.emplace_back(d.to, d.message);
        c.close = c.close || out.close;
    }
    return c;
}

// Whole, split at every index, byte by byte: the same result.
template <class Hook>
Collected frame_everywhere(Direction direction, const std::string& input, Hook& hook,
                           const std::optional<IdentityStamp>& stamp = std::nullopt) {
    const auto whole = frame(direction, {input}, hook, stamp);
    for (std::size_t k = 1; k < input.size(); ++k) {
        const std::string_view in(input);
        const auto split = frame(direction, {in.substr(0, k), in.substr(k)}, hook, stamp);
        if (!(split == whole)) {
            INFO("split at byte " << k);
            CHECK(split == whole);
            break;
        }
    }
    std::vector<std::string_view> bytes;
    for (std::size_t k = 0; k < input.size(); ++k) bytes.push_back(std::string_view(input).substr(k, 1));
    CHECK(frame(direction, bytes, hook, stamp) == whole);
    return whole;
}

struct PeerHook final : HeadHook {
    FlowTokens& tokens;
    std::uint64_t flow;
    PeerHook(FlowTokens& t, std::uint64_t own) : tokens(t), flow(own) {}
    HeadPlan plan(std::string_view head, const MessageHead& parsed) override {
        return plan_from_peer(head, parsed, kAt, flow, tokens);
    }
};

struct BackendHook final : HeadHook {
    FlowTokens& tokens;
    std::map<std::uint64_t, FlowEnds> open;
    explicit BackendHook(FlowTokens& t) : tokens(t) {}
    HeadPlan plan(std::string_view head, const MessageHead& parsed) override {
        return plan_from_backend(head, parsed, "sip-in", kAt.inner, tokens, [this](std::uint64_t id) -> std::optional<FlowEnds> {
            auto it = open.find(id);
            if (it == open.end()) return std::nullopt;
            return it->second;
        });
    }
};

// A REGISTER as sipp's outbound scenario sends it.
const std::string kRegister =
    "REGISTER sip:registrar.test SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-reg-1\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"A\" <sip:a@registrar.test>;tag=1\r\n"
    "To: <sip:a@registrar.test>\r\n"
    "Call-ID: reg-1@192.0.2.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:a@192.0.2.1:5061;transport=tls>;reg-id=1;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n\r\n";

// An INVITE as Kamailio 5.6.3 sends it to a registered contact through the stored Path
// (captured from tests/e2e/sip_edge_e2e_test.cpp: its own Record-Route with ftag, the caller's
// pair of ward's below it, sipp's padded Content-Length, ward's identity line from the caller's
// leg), with the Route and Max-Forwards under test.
std::string kamailio_invite(const std::string& route, const std::string& max_forwards = "69") {
    const std::string sdp = "v=0\r\no=bob 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
                            "m=audio 7000 RTP/AVP 0\r\n";
    return "INVITE sip:alice@ua-a.invalid;transport=tls SIP/2.0\r\n"
           "Record-Route: <sip:127.0.0.1:56839;transport=tcp;lr;ftag=b-call1>\r\n"
           "Record-Route: <sip:slJgqAAAAAAAAAACF21Usy44Z0olD88zQDwYDg@127.0.0.1:5070;transport=tcp;lr>\r\n"
           "Record-Route: <sip:sip.example.com:5061;transport=tls;lr>\r\n"
           "Via: SIP/2.0/TCP 127.0.0.1:56839;branch=z9hG4bKe887.87a22f7dcd81e071c516eb0d6c929962.0;i=3\r\n"
           "Via: SIP/2.0/TLS ua-b.invalid;received=127.0.0.1;branch=z9hG4bK-b-invite1\r\n"
           "Route: " + route + "\r\n"
           "Max-Forwards: " + max_forwards + "\r\n"
           "From: <sip:bob@registrar.test>;tag=b-call1\r\n"
           "To: <sip:alice@registrar.test>\r\n"
           "Call-ID: call-1@192.0.2.2\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:bob@ua-b.invalid;transport=tls>\r\n"
           "Content-Type: application/sdp\r\n"
           "Content-Length:    " + std::to_string(sdp.size()) + "\r\n"
           "X-Ward-TLS-Peer: ua-b.test;listener=sip-in;context=sip-peers\r\n\r\n" + sdp;
}

std::string inner_uri(const std::string& token, bool ob = false) {
    return "<sip:" + token + "@127.0.0.1:5070;transport=tcp;lr" + (ob ? ";ob" : "") + ">";
}

}  // namespace

TEST_CASE("flow tokens: made and verified - altered ones and others' refused - expired after two rotations") {
    using Kind = FlowTokens::Kind;
    FlowTokens tokens(std::chrono::hours(1));
    const auto t = tokens.make(Kind::path, 42);
    CHECK(t.size() == FlowTokens::kLength);
    CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
    REQUIRE(tokens.verify(t));
    CHECK(tokens.verify(t)->flow == 42u);
    CHECK(tokens.verify(t)->kind == Kind::path);
    CHECK(tokens.verify(t, "any call")->flow == 42u);  // a path token has no scope
    CHECK(tokens.make(Kind::path, 43) != t);
    // A dialog token holds only for its Call-ID, and is not a path token.
    const auto d = tokens.make(Kind::dialog, 42, "call-1@a");
    REQUIRE(tokens.verify(d, "call-1@a"));
    CHECK(tokens.verify(d, "call-1@a")->kind == Kind::dialog);
    CHECK_FALSE(tokens.verify(d, "call-2@a"));
    CHECK_FALSE(tokens.verify(d));
    CHECK(d != tokens.make(Kind::dialog, 42, "call-2@a"));
    // Every single-character change is refused.
    for (const auto& token : {t, d}) {
        for (std::size_t i = 0; i < token.size(); ++i) {
            auto altered = token;
            altered[i] = altered[i] == 'A' ? 'B' : 'A';
            CHECK_FALSE(tokens.verify(altered, "call-1@a"));
        }
    }
    CHECK_FALSE(tokens.verify(t.substr(1)));
    CHECK_FALSE(tokens.verify(t + "A"));
    CHECK_FALSE(tokens.verify(""));
    CHECK_FALSE(tokens.verify(std::string(FlowTokens::kLength, '.')));
    // Another process's keys.
    FlowTokens other(std::chrono::hours(1));
    CHECK_FALSE(other.verify(t));
    // One rotation later the token still routes; two later it does not.
    tokens.advance(std::chrono::minutes(61));
    CHECK(tokens.verify(t));
    const auto fresh = tokens.make(Kind::path, 7);
    CHECK(fresh.substr(0, 4) != t.substr(0, 4));  // the new key's id
    tokens.advance(std::chrono::minutes(61));
    CHECK_FALSE(tokens.verify(t));
    CHECK(tokens.verify(fresh)->flow == 7u);
}

TEST_CASE("route values: name-addrs split on commas outside quotes and brackets") {
    auto v = split_route_values("<sip:a.example;lr>, \"x, <y>\" <sip:b@c.example:5060;lr>;p=1,\r\n <sips:d.example>");
    REQUIRE(v);
    REQUIRE(v->size() == 3);
    CHECK((*v)[0].uri == "sip:a.example;lr");
    CHECK((*v)[1].uri == "sip:b@c.example:5060;lr");
    CHECK((*v)[1].text == "\"x, <y>\" <sip:b@c.example:5060;lr>;p=1");
    CHECK((*v)[2].uri == "sips:d.example");
    for (const std::string_view bad : {"sip:a.example;lr", "<sip:a", "<sip:a>,", ",<sip:a>", "<>", "\"open <sip:a>"}) {
        CAPTURE(bad);
        CHECK_FALSE(split_route_values(bad));
    }
    auto u = parse_sip_uri("sip:tok;en@127.0.0.1:5070;transport=tcp;lr");
    REQUIRE(u);
    CHECK(u->user == "tok;en");
    CHECK(u->host_port == "127.0.0.1:5070");
    u = parse_sip_uri("sips:[::1]:5070?h=v");
    REQUIRE(u);
    CHECK(u->user.empty());
    CHECK(u->host_port == "[::1]:5070");
    CHECK_FALSE(parse_sip_uri("tel:+15551234"));
    CHECK_FALSE(parse_sip_uri("sip:;lr"));
}

TEST_CASE("from a peer: REGISTER gets Path with the flow token and the ob mark - Max-Forwards goes down") {
    FlowTokens tokens;
    PeerHook hook(tokens, 5);
    const auto path = tokens.make(FlowTokens::Kind::path, 5);
    const auto c = frame_everywhere(Direction::from_peer, kRegister, hook);
    CHECK(c.reply.empty());
    CHECK(c.diverted.empty());
    std::string expected = kRegister;
    expected.replace(expected.find("Max-Forwards: 70"), 16, "Max-Forwards: 69");
    expected.insert(expected.find("\r\n") + 2, "Path: " + inner_uri(path, true) + "\r\n");
    CHECK(c.forward == expected);
    // Without reg-id: no ;ob. Without Max-Forwards: 70 is added.
    std::string plain = kRegister;
    plain.erase(plain.find(";reg-id=1"), plain.find("\r\nExpires") - plain.find(";reg-id=1"));
    plain.erase(plain.find("Max-Forwards: 70\r\n"), 18);
    const auto p = frame_everywhere(Direction::from_peer, plain, hook);
    CHECK(p.forward.find("Path: " + inner_uri(path) + "\r\n") != std::string::npos);
    CHECK(p.forward.find("Max-Forwards: 70\r\n") != std::string::npos);
    CHECK(p.forward.find("Record-Route") == std::string::npos);
}

TEST_CASE("from a peer: an in-dialog request loses ward's Route entries and gets the Record-Route pair") {
    FlowTokens tokens;
    PeerHook hook(tokens, 5);
    const std::string call_id = "call-1@192.0.2.2";
    const auto own = tokens.make(FlowTokens::Kind::dialog, 5, call_id);
    const auto other = tokens.make(FlowTokens::Kind::dialog, 9, call_id);  // the far end's flow, as the route set holds it
    const std::string bye = "BYE sip:b@192.0.2.2:40000;transport=tcp SIP/2.0\r\n"
                            "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-bye\r\n"
                            "Max-Forwards: 70\r\n"
                            "Route: <sip:sip.example.com:5061;transport=tls;lr>, " + inner_uri(own) + "\r\n"
                            "Route: <sip:127.0.0.1:5060;transport=tcp;r2=on;lr>,\r\n " + inner_uri(other) + "\r\n"
                            "Route: <sip:sip.example.com:5061;transport=tls;lr>\r\n"
                            "From: <sip:a@registrar.test>;tag=a-1\r\nTo: <sip:b@registrar.test>;tag=b-1\r\n"
                            "Call-ID: call-1@192.0.2.2\r\nCSeq: 2 BYE\r\n"
                            "X-Ward-TLS-Peer: forged\r\n"
                            "Content-Length: 0\r\n\r\n";
    auto stamp = IdentityStamp::make("X-Ward-TLS-Peer", "a.example", "sip-in", "ctx");
    REQUIRE(stamp);
    const auto c = frame_everywhere(Direction::from_peer, bye, hook, std::optional<IdentityStamp>(stamp.value()));
    const std::string expected =
        "BYE sip:b@192.0.2.2:40000;transport=tcp SIP/2.0\r\n"
        "Record-Route: " + inner_uri(own) + "\r\n"
        "Record-Route: <sip:sip.example.com:5061;transport=tls;lr>\r\n"
        "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-bye\r\n"
        "Max-Forwards: 69\r\n"
        "Route: <sip:127.0.0.1:5060;transport=tcp;r2=on;lr>, " + inner_uri(other) + ", <sip:sip.example.com:5061;transport=tls;lr>\r\n"
        "From: <sip:a@registrar.test>;tag=a-1\r\nTo: <sip:b@registrar.test>;tag=b-1\r\n"
        "Call-ID: call-1@192.0.2.2\r\nCSeq: 2 BYE\r\n"
        "Content-Length: 0\r\n"
        "X-Ward-TLS-Peer: a.example;listener=sip-in;context=ctx\r\n\r\n";
    CHECK(c.forward == expected);
}

TEST_CASE("from a peer: a bad token anywhere is 403 - Max-Forwards 0 is 483 - garbage in them is 400") {
    FlowTokens tokens;
    PeerHook hook(tokens, 5);
    const std::string base = "OPTIONS sip:b@registrar.test SIP/2.0\r\n"
                             "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-o\r\n"
                             "From: <sip:a@registrar.test>;tag=a\r\nTo: <sip:b@registrar.test>\r\n"
                             "Call-ID: o-1\r\nCSeq: 1 OPTIONS\r\n";
    const auto check = [&](const std::string& extra, const std::string& status) {
        CAPTURE(extra);
        const auto c = frame_everywhere(Direction::from_peer, base + extra + "Content-Length: 3\r\n\r\nabc" + base +
                                                                  "Content-Length: 0\r\n\r\n", hook);
        CHECK(c.reply.rfind("SIP/2.0 " + status, 0) == 0);
        CHECK_FALSE(c.close);
        // The refused message's body is skipped; the next message goes through.
        CHECK(c.forward.rfind("OPTIONS sip:b@registrar.test SIP/2.0\r\nMax-Forwards: 70\r\nRecord-Route:", 0) == 0);
        CHECK(c.forward.find("abc") == std::string::npos);
    };
    check("Route: <sip:registrar.test;lr>, " + inner_uri(std::string(38, 'A')) + "\r\n", "403 Forbidden");
    check("Route: <sip:127.0.0.1:5070;lr>\r\n", "403 Forbidden");  // names ward, no token at all
    check("Path: " + inner_uri("short") + "\r\n", "403 Forbidden");
    // Only ward writes Path entries of its own: a peer's is refused even with a valid token.
    check("Path: " + inner_uri(tokens.make(FlowTokens::Kind::path, 9)) + "\r\n", "403 Forbidden");
    // Another flow's token from another dialog, and a path token, do not route a peer's request.
    check("Route: " + inner_uri(tokens.make(FlowTokens::Kind::dialog, 9, "other-call")) + "\r\n", "403 Forbidden");
    check("Route: " + inner_uri(tokens.make(FlowTokens::Kind::path, 9)) + "\r\n", "403 Forbidden");
    {
        // Two Call-IDs: a dialog token cannot be bound, and no answer can be built: dropped.
        const auto c = frame_everywhere(Direction::from_peer, base + "Call-ID: o-2\r\nContent-Length: 0\r\n\r\n", hook);
        CHECK(c.forward.empty());
        CHECK(c.reply.empty());
        CHECK_FALSE(c.close);
    }
    check("Max-Forwards: 0\r\n", "483 Too Many Hops");
    {
        // More entries naming ward than a route set holds: refused before any token is checked.
        std::string many = "Route: ";
        for (int i = 0; i < 5; ++i) many += std::string(i ? ", " : "") + inner_uri(std::string(38, 'A'));
        check(many + "\r\n", "400 Bad Request");
    }
    check("Max-Forwards: 256\r\n", "400 Bad Request");
    check("Max-Forwards: 1\r\nMax-Forwards: 1\r\n", "400 Bad Request");
    check("Route: sip:registrar.test;lr\r\n", "400 Bad Request");
    // A response passes as it is.
    const std::string response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
                                 "From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n"
                                 "Content-Length: 0\r\n\r\n";
    CHECK(frame_everywhere(Direction::from_peer, response, hook).forward == response);
}

TEST_CASE("from the backend: a request to a flow's Path is diverted to it with the pair the other way round") {
    FlowTokens tokens;
    BackendHook hook(tokens);
    hook.open[11] = FlowEnds{kAt, "sip-in"};
    const auto path = tokens.make(FlowTokens::Kind::path, 11);
    const auto dialog = tokens.make(FlowTokens::Kind::dialog, 11, "call-1@192.0.2.2");
    const auto c = frame_everywhere(Direction::from_backend, kamailio_invite(inner_uri(path, true)), hook);
    CHECK(c.forward.empty());
    CHECK(c.reply.empty());
    REQUIRE(c.diverted.size() == 1);
    CHECK(c.diverted[0].first == 11u);
    auto expected = kamailio_invite("x");
    expected.erase(expected.find("Route: x\r\n"), 10);
    expected.replace(expected.find("Max-Forwards: 69"), 16, "Max-Forwards: 68");
    expected.insert(expected.find("\r\n") + 2, "Record-Route: <sip:sip.example.com:5061;transport=tls;lr>\r\n"
                                               "Record-Route: " + inner_uri(dialog) + "\r\n");
    CHECK(c.diverted[0].second == expected);

    // B's in-dialog BYE through Kamailio: ward's inner entry and the outer one after it go.
    const std::string route = inner_uri(dialog) + ", <sip:sip.example.com:5061;transport=tls;lr>, <sip:next.example;lr>";
    const auto d = frame_everywhere(Direction::from_backend, kamailio_invite(route), hook);
    REQUIRE(d.diverted.size() == 1);
    CHECK(d.diverted[0].second.find("\r\nRoute: <sip:next.example;lr>\r\n") != std::string::npos);
}

TEST_CASE("from the backend: 430 for a closed flow - 403 without a valid token - 483 - responses dropped") {
    FlowTokens tokens;
    BackendHook hook(tokens);
    hook.open[11] = FlowEnds{kAt, "sip-in"};
    hook.open[13] = FlowEnds{kAt, "other-listener"};
    const auto open = tokens.make(FlowTokens::Kind::path, 11);
    const auto closed = tokens.make(FlowTokens::Kind::path, 12);
    const auto answer = [&](const std::string& message) {
        const auto c = frame_everywhere(Direction::from_backend, message, hook);
        CHECK(c.diverted.empty());
        CHECK(c.forward.empty());
        CHECK_FALSE(c.close);
        return c.reply;
    };
    CHECK(answer(kamailio_invite(inner_uri(closed))).rfind("SIP/2.0 430 Flow Failed\r\n", 0) == 0);
    CHECK(answer(kamailio_invite(inner_uri(std::string(38, 'x')))).rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
    CHECK(answer(kamailio_invite("<sip:elsewhere.example;lr>")).rfind("SIP/2.0 403 Forbidden\r\n", 0) == 0);
    CHECK(answer(kamailio_invite(inner_uri(open) + ", " + inner_uri(open.substr(1) + "A"))).rfind("SIP/2.0 403", 0) == 0);
    CHECK(answer(kamailio_invite(inner_uri(open), "0")).rfind("SIP/2.0 483 Too Many Hops\r\n", 0) == 0);
    CHECK(answer(kamailio_invite(inner_uri(open) + ", " + inner_uri(open) + ", " + inner_uri(open) + ", " + inner_uri(open) +
                                 ", " + inner_uri(open)))
              .rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);
    // A dialog token routes only its own dialog; a flow of another listener is not this one's.
    CHECK(answer(kamailio_invite(inner_uri(tokens.make(FlowTokens::Kind::dialog, 11, "another-call")))).rfind("SIP/2.0 403", 0) == 0);
    CHECK(answer(kamailio_invite(inner_uri(tokens.make(FlowTokens::Kind::path, 13)))).rfind("SIP/2.0 403", 0) == 0);
    // The answer is built from the request: its Vias in order, a To tag added.
    const auto a = answer(kamailio_invite(inner_uri(closed)));
    CHECK(a.find("Via: SIP/2.0/TCP 127.0.0.1:56839;branch=z9hG4bKe887.87a22f7dcd81e071c516eb0d6c929962.0;i=3\r\n"
                 "Via: SIP/2.0/TLS ua-b.invalid;") != std::string::npos);
    CHECK(a.find("To: <sip:alice@registrar.test>;tag=ward-") != std::string::npos);
    // A response on the return listener: nobody asked for it, dropped without an answer.
    const std::string response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
                                 "From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n"
                                 "Content-Length: 0\r\n\r\n";
    CHECK(answer(response).empty());
}
