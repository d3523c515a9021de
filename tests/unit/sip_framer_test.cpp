// SPDX-License-Identifier: Apache-2.0
// SIP stream framing: message boundaries, keep-alives, framing errors and their 400 / 513
// answers, the identity header. Every input is framed whole, split in two at every index, and
// byte by byte, and all three must produce the same output.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "sip/framer.hpp"
#include "sip/identity_stamp.hpp"
#include "sip/message_head.hpp"

using namespace ward::sip;

namespace {

// Everything a sequence of feeds produced, added up, as the relay would have written it.
struct Collected {
    std::string forward;
    int pongs = 0;
    std::string reply;
    bool close = false;
    std::string error;
    bool mid_message = false;
    bool operator==(const Collected&) const = default;
};

std::string escaped(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n\n";
        else if (c >= 0x20 && c < 0x7f) out += c;
        else out += '?';
    }
    return out;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Collected> {
    static String convert(const Collected& c) {
        const std::string text = "\nforward: " + escaped(c.forward) + "\npongs: " +
                                 std::to_string(c.pongs) + "\nreply: " + escaped(c.reply) +
                                 "\nclose: " + (c.close ? "yes" : "no") + " (" + c.error +
                                 ")\nmid_message: " + (c.mid_message ? "yes" : "no") + "\n";
        return String(text.c_str());
    }
};
}  // namespace doctest

namespace {

constexpr std::string_view kStampLine =
    "X-Ward-TLS-Peer: peer.example.com;listener=sip-in;context=peers\r\n";

IdentityStamp test_stamp() {
    auto stamp = IdentityStamp::make("X-Ward-TLS-Peer", "peer.example.com", "sip-in", "peers");
    REQUIRE(stamp.ok());
    return *stamp;
}

struct Setup {
    Direction direction = Direction::from_peer;
    FramerLimits limits;
    std::optional<IdentityStamp> stamp = test_stamp();
};

Setup from_backend() {
    Setup s;
    s.direction = Direction::from_backend;
    s.stamp.reset();
    return s;
}

Collected run(const Setup& setup, const std::vector<std::string_view>& chunks, std::size_t& held) {
    Framer framer(setup.direction, setup.limits, setup.stamp);
    Collected c;
    for (const auto chunk : chunks) {
        if (c.close) break;  // the relay stops reading
        auto out = framer.feed(chunk);
        c.forward += out.forward;
        c.pongs += out.pongs;
        c.reply += out.reply;
        c.close = out.close;
        if (!out.error.empty()) c.error = out.error;
        c.mid_message = out.mid_message;
        CHECK(out.mid_message == framer.mid_message());
        held = std::max(held, framer.buffered());
    }
    return c;
}

// Frames `input` whole, in two chunks split at every index, and byte by byte; all must agree.
// `held` is the most the framer buffered in any of these runs.
Collected frame(const Setup& setup, std::string_view input, std::size_t* held_out = nullptr) {
    std::size_t held = 0;
    const auto whole = run(setup, {input}, held);
    for (std::size_t k = 1; k < input.size(); ++k) {
        const auto split = run(setup, {input.substr(0, k), input.substr(k)}, held);
        if (!(split == whole)) {
            INFO("split at byte " << k);
            CHECK(split == whole);
            break;
        }
    }
    std::vector<std::string_view> bytes;
    for (std::size_t k = 0; k < input.size(); ++k) bytes.push_back(input.substr(k, 1));
    const auto bytewise = run(setup, bytes, held);
    INFO("byte by byte");
    CHECK(bytewise == whole);

    // Memory stays within one head and one body.
    const std::size_t stamp = setup.stamp ? setup.stamp->line().size() : 0;
    CHECK(held <= setup.limits.max_header_size + stamp + setup.limits.max_body_size);
    if (held_out) *held_out = held;
    return whole;
}

Collected frame(std::string_view input, std::size_t* held_out = nullptr) {
    return frame(Setup{}, input, held_out);
}

const std::string kVia = "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds\r\n";
const std::string kDialog =
    "To: Bob <sip:bob@example.com>\r\n"
    "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n";

// An INVITE with the given extra header lines, Content-Length line(s) and body.
std::string invite(const std::string& extra, const std::string& length, const std::string& body) {
    return "INVITE sip:bob@example.com SIP/2.0\r\n" + kVia + "Max-Forwards: 70\r\n" + kDialog +
           extra + length + "\r\n" + body;
}

std::string invite_with_body(const std::string& body, const std::string& extra = {}) {
    return invite(extra, "Content-Length: " + std::to_string(body.size()) + "\r\n", body);
}

std::string options(const std::string& call_id) {
    return "OPTIONS sip:ward.example.com SIP/2.0\r\n" + kVia + "From: <sip:probe@example.com>;tag=1\r\n"
           "To: <sip:ward.example.com>\r\nCall-ID: " + call_id + "\r\nCSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n";
}

// `message` as relayed from the peer: ward's identity line just before the empty line.
std::string stamped(const std::string& message, std::string_view line = kStampLine) {
    auto out = message;
    out.insert(out.find("\r\n\r\n") + 2, line);
    return out;
}

std::size_t count_ci(std::string_view text, std::string_view needle) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    std::size_t n = 0;
    for (auto at = lower.find(needle); at != std::string::npos; at = lower.find(needle, at + 1)) ++n;
    return n;
}

void check_refused(const Collected& c, std::string_view status_line) {
    CHECK(c.forward.empty());
    CHECK(c.close);
    CHECK(c.pongs == 0);
    CHECK(c.reply.rfind(status_line, 0) == 0);
    CHECK(c.reply.size() > status_line.size());
}

void check_not_sip(const Collected& c) {
    CHECK(c.forward.empty());
    CHECK(c.reply.empty());
    CHECK(c.close);
    CHECK(c.error.rfind("not SIP", 0) == 0);
}

}  // namespace

// --- message boundaries ------------------------------------------------------------------

TEST_CASE("two messages in one chunk are forwarded in order") {
    const auto a = invite_with_body("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\n");
    const auto b = options("second@example.com");
    const auto c = frame(a + b);
    CHECK(c.forward == stamped(a) + stamped(b));
    CHECK(c.pongs == 0);
    CHECK_FALSE(c.close);
    CHECK_FALSE(c.mid_message);
}

TEST_CASE("one message split in three chunks is forwarded once complete") {
    const auto m = invite_with_body("v=0\r\n");
    Framer framer(Direction::from_peer, {}, test_stamp());
    auto first = framer.feed(std::string_view(m).substr(0, 10));
    CHECK(first.forward.empty());
    CHECK(first.mid_message);
    auto second = framer.feed(std::string_view(m).substr(10, m.size() - 13));
    CHECK(second.forward.empty());
    CHECK(second.mid_message);
    auto third = framer.feed(std::string_view(m).substr(m.size() - 3));
    CHECK(third.forward == stamped(m));
    CHECK_FALSE(third.mid_message);
    CHECK_FALSE(third.close);

    CHECK(frame(m).forward == stamped(m));
}

TEST_CASE("a body holding CRLFCRLF is body and not a ping or a head end") {
    const std::string body = "\r\n\r\nv=0\r\n\r\n\r\n\r\nINVITE sip:x SIP/2.0\r\n\r\n";
    const auto m = invite_with_body(body);
    const auto c = frame(m + "\r\n\r\n");
    CHECK(c.forward == stamped(m));
    CHECK(c.pongs == 1);  // only the ping after the message
    CHECK_FALSE(c.close);
}

TEST_CASE("compact l and odd spacing around Content-Length are understood") {
    const auto compact = invite({}, "l: 3\r\n", "abc");
    CHECK(frame(compact).forward == stamped(compact));
    const auto spaced = invite({}, "content-length \t:  3 \t\r\n", "abc");
    CHECK(frame(spaced).forward == stamped(spaced));
    const auto zeros = invite({}, "Content-Length: 0003\r\n", "abc");
    CHECK(frame(zeros).forward == stamped(zeros));
    const auto agreeing = invite({}, "Content-Length: 3\r\nl: 3\r\n", "abc");
    CHECK(frame(agreeing).forward == stamped(agreeing));
}

TEST_CASE("a message with no headers but Content-Length is framed") {
    const std::string m = "SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    const auto c = frame(from_backend(), m + m);
    CHECK(c.forward == m + m);
}

TEST_CASE("mid_message is set from the first byte of a start-line to the last body byte") {
    const auto m = invite_with_body("abc");
    Framer framer(Direction::from_peer, {}, test_stamp());
    CHECK_FALSE(framer.feed("\r\n").mid_message);
    CHECK(framer.feed("I").mid_message);
    CHECK(framer.feed(std::string_view(m).substr(1, m.size() - 2)).mid_message);
    const auto last = framer.feed(std::string_view(m).substr(m.size() - 1));
    CHECK_FALSE(last.mid_message);
    CHECK(last.forward == stamped(m));
    CHECK(framer.buffered() == 0);  // nothing held between messages
}

// --- keep-alives (RFC 5626) --------------------------------------------------------------

TEST_CASE("a CRLFCRLF ping gets one pong and nothing is forwarded") {
    const auto c = frame("\r\n\r\n");
    CHECK(c.pongs == 1);
    CHECK(c.forward.empty());
    CHECK_FALSE(c.close);
    CHECK_FALSE(c.mid_message);
}

TEST_CASE("four CRLFs are two pings and three CRLFs are one") {
    CHECK(frame("\r\n\r\n\r\n\r\n").pongs == 2);
    CHECK(frame("\r\n\r\n\r\n").pongs == 1);
    const auto m = options("after-pings@example.com");
    const auto c = frame("\r\n\r\n\r\n" + m);  // the third CRLF is a stray one
    CHECK(c.pongs == 1);
    CHECK(c.forward == stamped(m));
}

TEST_CASE("a stray CRLF before a request is ignored") {
    const auto m = options("stray@example.com");
    const auto c = frame("\r\n" + m + "\r\n" + m);
    CHECK(c.pongs == 0);
    CHECK(c.forward == stamped(m) + stamped(m));
    CHECK_FALSE(c.close);
}

TEST_CASE("pings between messages are answered and never forwarded") {
    const auto a = options("a@example.com");
    const auto b = invite_with_body("x");
    const auto c = frame("\r\n\r\n" + a + "\r\n\r\n" + b + "\r\n\r\n\r\n");
    CHECK(c.pongs == 3);
    CHECK(c.forward == stamped(a) + stamped(b));
}

TEST_CASE("pings from the backend are answered too") {
    const std::string ok = "SIP/2.0 200 OK\r\n" + kVia + kDialog + "Content-Length: 0\r\n\r\n";
    const auto c = frame(from_backend(), "\r\n\r\n" + ok);
    CHECK(c.pongs == 1);
    CHECK(c.forward == ok);
}

TEST_CASE("a lone CR or LF between messages is not SIP") {
    check_not_sip(frame("\n\n"));
    check_not_sip(frame("\r\r\n"));
    check_not_sip(frame("\rINVITE"));
}

// --- framing errors ----------------------------------------------------------------------

TEST_CASE("exact bytes of the 400 answer to a request without Content-Length") {
    const std::string request =
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds\r\n"
        "v: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-1;received=10.0.0.9\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        "From: \"Alice; <A>\" <sip:alice@example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Contact: <sip:alice@pc33.example.com>\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n"
        "v=0\r\n";
    const auto c = frame(request);
    CHECK(c.reply ==
          "SIP/2.0 400 Bad Request\r\n"
          "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds\r\n"
          "v: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-1;received=10.0.0.9\r\n"
          "From: \"Alice; <A>\" <sip:alice@example.com>;tag=1928301774\r\n"
          "To: Bob <sip:bob@example.com>;tag=ward-aa8f3f2d\r\n"
          "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
          "CSeq: 314159 INVITE\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
    CHECK(c.forward.empty());
    CHECK(c.close);
    CHECK(c.error ==
          "'INVITE' request: Content-Length missing (mandatory on a stream, RFC 3261 section 18.3)");
}

TEST_CASE("exact bytes of the 400 answer keep an existing To tag and compact forms") {
    const std::string request =
        "BYE sip:alice@pc33.example.com SIP/2.0\r\n"
        "v: SIP/2.0/TLS 192.0.2.20:5061;branch=z9hG4bKnashds7\r\n"
        "t: <sip:alice@example.com>;tag=1928301774\r\n"
        "f:<sip:bob@example.com> ; tag = a6c85cf\r\n"
        "i: a84b4c76e66710@pc33.example.com\r\n"
        "CSeq: 231 BYE\r\n"
        "l: abc\r\n"
        "\r\n";
    const auto c = frame(request);
    CHECK(c.reply ==
          "SIP/2.0 400 Bad Request\r\n"
          "v: SIP/2.0/TLS 192.0.2.20:5061;branch=z9hG4bKnashds7\r\n"
          "f:<sip:bob@example.com> ; tag = a6c85cf\r\n"
          "t: <sip:alice@example.com>;tag=1928301774\r\n"
          "i: a84b4c76e66710@pc33.example.com\r\n"
          "CSeq: 231 BYE\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
    CHECK(c.error == "'BYE' request: Content-Length 'abc' is not a number");
}

// Found by fuzz_sip_edge (tests/fuzz/corpus/sip_edge/finding-6357a41b): the To value ended in a
// whitespace-only continuation line, and the tag ward adds went onto a line of its own.
TEST_CASE("the 400 answer to a request whose To ends in folding is SIP and frames again as one message") {
    for (const std::string fold : {"\r\n ", "\r\n\t \r\n ", " \r\n\t"}) {
        CAPTURE(escaped(fold));
        const std::string request =
            "REGISTER sip:registrar.test SIP/2.0\r\n"
            "Via: SIP/2.0/TLS ua.invalid;branch=z9hG4bK3\r\n"
            "From: <sip:a@x>;tag=1\r\n"
            "To: <sip:a@x>" + fold + "\r\n"
            "Call-ID: fz\r\n"
            "CSeq: 10 REGISTER\r\n"
            "Content-Length: x\r\n"
            "\r\n";
        const auto c = frame(request);
        REQUIRE(c.reply.rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);
        CHECK(std::regex_search(c.reply, std::regex("\r\nTo: <sip:a@x>;tag=ward-[0-9a-f]{8}\r\nCall-ID: fz\r\n")));
        Framer again(Direction::from_backend, {1 << 20, 1 << 20}, std::nullopt);
        const auto out = again.feed(c.reply);
        CHECK_FALSE(out.close);
        CHECK(out.forward == c.reply);
        CHECK_FALSE(out.mid_message);
    }
}

// Found by fuzz_sip_edge once answers before a close were checked too: a Via continued by a
// line that looks like a header was copied as it came, and ward's own answer held what ward
// refuses ("header hidden in a continuation line"). Copied fields are unfolded.
TEST_CASE("the 400 answer copies folded fields as one line each") {
    const std::string request =
        "INVITE sip:b@x SIP/2.0\r\n"
        "Via: SIP/2.0/TLS ua.invalid;branch=z9hG4bK1,\r\n"
        " SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK2\r\n"
        " Via:S\r\n"
        "From: <sip:a@x>;tag=1\r\n"
        "To: <sip:b@x>\r\n"
        "Call-ID: fz\r\n"
        "  \t continued\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: x\r\n"
        "\r\n";
    const auto c = frame(request);
    const std::string_view via = "\r\nVia: SIP/2.0/TLS ua.invalid;branch=z9hG4bK1, SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK2\r\n";
    INFO(c.reply);
    CHECK(c.reply.find(via) != std::string::npos);
    CHECK(c.reply.find("Call-ID: fz continued\r\n") != std::string::npos);
    Framer again(Direction::from_backend, {1 << 20, 1 << 20}, std::nullopt);
    const auto out = again.feed(c.reply);
    CHECK_FALSE(out.close);
    CHECK(out.error.empty());
    CHECK(out.forward == c.reply);
}

TEST_CASE("malformed Content-Length values are answered 400") {
    for (const std::string value : {"-1", "abc", "1e3", "+5", "", "5 5", "0x10", "5,5", "5.0", "-0"}) {
        CAPTURE(value);
        const auto c = frame(invite({}, "Content-Length: " + value + "\r\n", "hello"));
        check_refused(c, "SIP/2.0 400 Bad Request\r\n");
        CHECK(c.error.find("is not a number") != std::string::npos);
    }
}

TEST_CASE("conflicting Content-Length values are answered 400") {
    const auto c = frame(invite({}, "Content-Length: 5\r\nl: 6\r\n", "hello!"));
    check_refused(c, "SIP/2.0 400 Bad Request\r\n");
    CHECK(c.error == "'INVITE' request: Content-Length given twice with different values (5, 6)");
}

TEST_CASE("a missing Content-Length is answered 400 even without a body") {
    check_refused(frame(invite({}, {}, {})), "SIP/2.0 400 Bad Request\r\n");
}

TEST_CASE("Content-Length over max_body_size is answered 513") {
    for (const std::string value :
         {"65537", "2147483648", "18446744073709551616", "99999999999999999999999"}) {
        CAPTURE(value);
        const auto c = frame(invite({}, "Content-Length: " + value + "\r\n", "x"));
        check_refused(c, "SIP/2.0 513 Message Too Large\r\n");
        CHECK(c.error.find("exceeds max_body_size (65536 bytes)") != std::string::npos);
    }
}

TEST_CASE("a body of exactly max_body_size is relayed and one byte more is answered 513") {
    Setup small;
    small.limits = {1024, 64};
    const auto at_limit = invite_with_body(std::string(64, 'b'));
    CHECK(frame(small, at_limit).forward == stamped(at_limit));
    check_refused(frame(small, invite_with_body(std::string(65, 'b'))),
                  "SIP/2.0 513 Message Too Large\r\n");
}

TEST_CASE("a head of exactly max_header_size is relayed and one byte more is answered 513") {
    const auto base = invite_with_body("abc", "X-Pad: \r\n");
    const std::size_t head = base.find("\r\n\r\n") + 4;
    Setup small;
    small.limits = {head + 10, 64};
    const auto at_limit = invite_with_body("abc", "X-Pad: 0123456789\r\n");
    CHECK(frame(small, at_limit).forward == stamped(at_limit));
    std::size_t held = 0;
    const auto over = frame(small, invite_with_body("abc", "X-Pad: 0123456789A\r\n"), &held);
    check_refused(over, "SIP/2.0 513 Message Too Large\r\n");
    CHECK(held <= small.limits.max_header_size);
}

TEST_CASE("a 70 KB head is answered 513 and the framer never holds more than the limit") {
    const auto big = invite("X-Big: " + std::string(70000, 'A') + "\r\n", "Content-Length: 0\r\n", {});
    std::size_t held = 0;
    const auto c = frame(big, &held);
    check_refused(c, "SIP/2.0 513 Message Too Large\r\n");
    CHECK(c.reply.find("Call-ID: a84b4c76e66710@pc33.example.com\r\n") != std::string::npos);
    CHECK(c.error == "head exceeds max_header_size (16384 bytes)");
    CHECK(held <= 16 * 1024);
}

TEST_CASE("a 70 KB head before the dialog headers closes without an answer") {
    const std::string big = "INVITE sip:bob@example.com SIP/2.0\r\nX-Big: " + std::string(70000, 'A') +
                            "\r\n" + kVia + kDialog + "Content-Length: 0\r\n\r\n";
    std::size_t held = 0;
    const auto c = frame(big, &held);
    CHECK(c.close);
    CHECK(c.reply.empty());
    CHECK(c.forward.empty());
    CHECK(held <= 16 * 1024);
}

TEST_CASE("a start-line longer than max_header_size closes without an answer") {
    Setup small;
    small.limits = {256, 64};
    const auto c = frame(small, "INVITE sip:" + std::string(1000, 'b') + "@example.com SIP/2.0\r\n");
    CHECK(c.close);
    CHECK(c.reply.empty());
    CHECK(c.error == "head exceeds max_header_size (256 bytes)");
}

TEST_CASE("an ACK is never answered") {
    const std::string ack = "ACK sip:bob@example.com SIP/2.0\r\n" + kVia + kDialog + "\r\n";
    const auto c = frame(ack);
    CHECK(c.close);
    CHECK(c.reply.empty());
    CHECK(c.forward.empty());
}

TEST_CASE("a request without Call-ID or with two From headers is not answered") {
    const std::string no_call_id = "OPTIONS sip:w.example.com SIP/2.0\r\n" + kVia +
                                   "From: <sip:a@example.com>;tag=1\r\nTo: <sip:w.example.com>\r\n"
                                   "CSeq: 1 OPTIONS\r\n\r\n";
    CHECK(frame(no_call_id).reply.empty());
    CHECK(frame(no_call_id).close);
    const std::string twice = "OPTIONS sip:w.example.com SIP/2.0\r\n" + kVia + kDialog +
                              "From: <sip:mallory@example.com>;tag=2\r\n\r\n";
    CHECK(frame(twice).reply.empty());
    CHECK(frame(twice).close);
}

TEST_CASE("a broken response is closed on without an answer") {
    const std::string response = "SIP/2.0 200 OK\r\n" + kVia + kDialog + "Content-Length: x\r\n\r\n";
    const auto c = frame(from_backend(), response);
    CHECK(c.close);
    CHECK(c.reply.empty());
    CHECK(c.error == "response 200: Content-Length 'x' is not a number");
}

TEST_CASE("a message completed before a broken one is forwarded and the broken one is not") {
    const auto good = invite_with_body("v=0\r\n");
    const auto broken = invite({}, "Content-Length: -1\r\n", "v=0\r\n");
    const auto c = frame(good + "\r\n\r\n" + broken);
    CHECK(c.forward == stamped(good));
    CHECK(c.pongs == 1);
    CHECK(c.close);
    CHECK(c.reply.rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);

    const auto then_junk = frame(good + "\x16\x03\x01\x02\x00\x01");
    CHECK(then_junk.forward == stamped(good));
    CHECK(then_junk.close);
    CHECK(then_junk.reply.empty());
}

TEST_CASE("header lines with control bytes or bare line ends are answered 400") {
    // A backend that splits lines on LF alone would see a header ward did not: refuse it.
    for (const std::string& extra : {std::string("Subject: hi\nX-Ward-TLS-Peer: admin\r\n"),
                                    std::string("Subject: hi\rX-Ward-TLS-Peer: admin\r\n"),
                                    std::string("Subject: a\0b\r\n", 14),
                                    std::string("Subject: \x7f\r\n"),
                                    std::string("no colon here\r\n"), std::string(": empty name\r\n"),
                                    std::string("Bad Name: x\r\n")}) {
        CAPTURE(escaped(extra));
        const std::string start_line = "INVITE sip:bob@example.com SIP/2.0\r\n";
        check_refused(frame(invite({}, "Content-Length: 0\r\n", {}).insert(start_line.size(), extra)),
                      "SIP/2.0 400 Bad Request\r\n");
    }
}

TEST_CASE("folded headers ward does not read are forwarded as they came") {
    const auto m = invite_with_body(
        "abc", "Subject: I know you're there,\r\n pick up the phone\r\n\tand talk to me!\r\n");
    CHECK(frame(m).forward == stamped(m));
}

TEST_CASE("folding inside Content-Length or right after the start-line is answered 400") {
    check_refused(frame(invite({}, "Content-Length:\r\n 3\r\n", "abc")), "SIP/2.0 400 Bad Request\r\n");
    const std::string after_start = "OPTIONS sip:w.example.com SIP/2.0\r\n folded\r\n" + kVia +
                                    kDialog + "Content-Length: 0\r\n\r\n";
    check_refused(frame(after_start), "SIP/2.0 400 Bad Request\r\n");
}

// --- bytes that are not SIP --------------------------------------------------------------

TEST_CASE("random bytes close the connection with nothing forwarded") {
    for (unsigned seed = 1; seed <= 4; ++seed) {
        std::mt19937 gen(seed);  // fixed seeds: the same bytes on every run
        std::string junk(300, '\0');
        for (auto& b : junk) b = static_cast<char>(gen() & 0xff);
        CAPTURE(seed);
        check_not_sip(frame(junk));
    }
    check_not_sip(frame(std::string(512, '\0')));
}

TEST_CASE("a TLS ClientHello is not SIP") {
    const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1f\x00\x00\r\n\r\n", 19);
    const auto c = frame(hello);
    check_not_sip(c);
    CHECK(c.error == "not SIP: start-line begins with byte 0x16");
}

TEST_CASE("HTTP and other text protocols are not SIP") {
    const auto get = frame("GET / HTTP/1.1\r\nHost: ward.example.com\r\n\r\n");
    check_not_sip(get);
    CHECK(get.error == "not SIP: start-line 'GET / HTTP/1.1'");
    check_not_sip(frame("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    check_not_sip(frame("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    check_not_sip(frame("<stream:stream xmlns='jabber:client'>"));
    check_not_sip(frame("INVITE sip:bob@example.com SIP/2.0 \r\n\r\n"));
}

TEST_CASE("start-line grammar") {
    CHECK(parse_start_line("INVITE sip:bob@example.com SIP/2.0"));
    CHECK(parse_start_line("INVITE sips:bob@example.com sip/2.0"));  // case-insensitive version
    CHECK(parse_start_line("X-CUSTOM.1 tel:+1-201-555-0123 SIP/2.0"));
    CHECK(parse_start_line("SIP/2.0 200 OK"));
    CHECK(parse_start_line("SIP/2.0 180 "));
    CHECK(parse_start_line("SIP/2.0 699 Caf\xc3\xa9"));
    CHECK_FALSE(parse_start_line("SIP/2.0 200"));
    CHECK_FALSE(parse_start_line("SIP/2.0 20 OK"));
    CHECK_FALSE(parse_start_line("SIP/2.0 700 Nope"));
    CHECK_FALSE(parse_start_line("SIP/2.0 099 Nope"));
    CHECK_FALSE(parse_start_line("INVITE  sip:bob@example.com SIP/2.0"));
    CHECK_FALSE(parse_start_line("INVITE sip:bob@example.com SIP/3.0"));
    CHECK_FALSE(parse_start_line("INVITE sip:bob@example.com"));
    CHECK_FALSE(parse_start_line("INVITE / SIP/2.0"));
    CHECK_FALSE(parse_start_line("INVITE :bob SIP/2.0"));
    CHECK_FALSE(parse_start_line("INV(TE sip:bob@example.com SIP/2.0"));
    CHECK_FALSE(parse_start_line(""));
    const auto response = parse_start_line("SIP/2.0 486 Busy Here");
    REQUIRE(response);
    CHECK(response->kind == MessageKind::response);
    CHECK(response->status == 486);
    const auto request = parse_start_line("REGISTER sip:example.com SIP/2.0");
    REQUIRE(request);
    CHECK(request->kind == MessageKind::request);
    CHECK(request->method == "REGISTER");
}

// --- identity ------------------------------------------------------------------------------

TEST_CASE("forged identity headers are removed and exactly one is added") {
    const std::string forged =
        "X-Ward-TLS-Peer: admin\r\n"
        "x-ward-tls-peer: admin;listener=sip-in;context=peers\r\n"
        "X-WARD-TLS-PEER   :  admin.evil  \r\n"
        "X-Ward-TLS-Peer\t:admin\r\n"
        "X-Ward-TLS-Peers: not the same header\r\n";
    const std::string m = "REGISTER sip:example.com SIP/2.0\r\n" + forged + kVia + kDialog +
                          "x-WARD-tls-PEER:\r\nContent-Length: 4\r\n\r\nbody";
    const auto c = frame(m);
    CHECK(c.forward ==
          "REGISTER sip:example.com SIP/2.0\r\n"
          "X-Ward-TLS-Peers: not the same header\r\n" +
              kVia + kDialog +
              "Content-Length: 4\r\n"
              "X-Ward-TLS-Peer: peer.example.com;listener=sip-in;context=peers\r\n"
              "\r\n"
              "body");
    CHECK(count_ci(c.forward, "x-ward-tls-peer:") == 1);
    CHECK_FALSE(c.close);
}

TEST_CASE("an identity header hidden in folding is answered 400") {
    // A backend that does not unfold would read the continuation as a header of its own.
    check_refused(frame(invite_with_body("", "Subject: hi\r\n X-Ward-TLS-Peer: admin\r\n")),
                  "SIP/2.0 400 Bad Request\r\n");
    check_refused(frame(invite_with_body("", "Subject: hi\r\n\tx-ward-tls-peer :admin\r\n")),
                  "SIP/2.0 400 Bad Request\r\n");
    check_refused(frame(invite_with_body("", "X-Ward-TLS-Peer: admin\r\n ;context=peers\r\n")),
                  "SIP/2.0 400 Bad Request\r\n");
}

TEST_CASE("the configured identity header name is used") {
    auto stamp = IdentityStamp::make("P-Ward-Peer", "peer.example.com", "edge", "ctx");
    REQUIRE(stamp.ok());
    Setup s;
    s.stamp = *stamp;
    const auto m = invite_with_body("", "p-ward-peer: admin\r\nX-Ward-TLS-Peer: untouched\r\n");
    const auto c = frame(s, m);
    CHECK(c.forward == stamped(invite_with_body("", "X-Ward-TLS-Peer: untouched\r\n"),
                               "P-Ward-Peer: peer.example.com;listener=edge;context=ctx\r\n"));
}

TEST_CASE("an unverified peer's identity headers are removed and none is added") {
    auto stamp = IdentityStamp::unverified("X-Ward-TLS-Peer");
    REQUIRE(stamp.ok());
    CHECK(stamp->line().empty());
    Setup s;
    s.stamp = *stamp;
    const auto c = frame(s, invite_with_body("x", "X-Ward-TLS-Peer: admin\r\n"));
    CHECK(c.forward == invite_with_body("x"));
}

TEST_CASE("a response from the backend passes unmodified") {
    const std::string ok = "SIP/2.0 200 OK\r\n" + kVia + kDialog +
                           "X-Ward-TLS-Peer: whatever the backend says\r\n"
                           "Subject: folded\r\n  value\r\n"
                           "Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n";
    CHECK(frame(from_backend(), ok + ok).forward == ok + ok);
}

TEST_CASE("a response from the peer loses forged identity headers and gets none of ward's") {
    const std::string ringing = "SIP/2.0 180 Ringing\r\n" + kVia + kDialog +
                                "X-Ward-TLS-Peer: admin\r\nContent-Length: 0\r\n\r\n";
    CHECK(frame(ringing).forward == "SIP/2.0 180 Ringing\r\n" + kVia + kDialog + "Content-Length: 0\r\n\r\n");
}

TEST_CASE("a header ward reads hidden in a continuation line is refused") {
    for (const std::string hidden : {" Route: <sip:x@127.0.0.1:5070;lr>", "\tmax-forwards : 70", " Via: SIP/2.0/TCP x"}) {
        CAPTURE(hidden);
        const auto m = invite_with_body("", "Subject: folded\r\n" + hidden + "\r\n");
        const auto out = frame(m);
        CHECK(out.close);
        CHECK(out.reply.rfind("SIP/2.0 400 Bad Request\r\n", 0) == 0);
        CHECK(out.forward.empty());
    }
}

TEST_CASE("a request from the backend is relayed unmodified") {
    const auto m = invite_with_body("v=0\r\n", "X-Ward-TLS-Peer: backend\r\n");
    CHECK(frame(from_backend(), m).forward == m);
}

TEST_CASE("identity values are tokens or quoted strings") {
    auto plain = IdentityStamp::make("X-Ward-TLS-Peer", "peer-allowed.test", "sip-in", "peers");
    REQUIRE(plain.ok());
    CHECK(plain->line() == "X-Ward-TLS-Peer: peer-allowed.test;listener=sip-in;context=peers\r\n");

    auto quoted = IdentityStamp::make("X-Ward-TLS-Peer", "Test \"SIP\" Peer;admin,x=y\\", "sip in", "");
    REQUIRE(quoted.ok());
    CHECK(quoted->line() ==
          "X-Ward-TLS-Peer: \"Test \\\"SIP\\\" Peer;admin,x=y\\\\\""
          ";listener=\"sip in\";context=\"\"\r\n");

    auto utf8 = IdentityStamp::make("X-Ward-TLS-Peer", "J\xc3\xbcrgen", "sip-in", "peers");
    REQUIRE(utf8.ok());
    CHECK(utf8->line() == "X-Ward-TLS-Peer: \"J\xc3\xbcrgen\";listener=sip-in;context=peers\r\n");
}

TEST_CASE("identity values with control bytes and bad header names are refused") {
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", std::string("a\0b", 3), "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", "a\r\nX-Evil: 1", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", "a\tb", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", "peer", "l\x7f", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", "peer", "l", "c\n").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward-TLS-Peer", "", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X Ward", "peer", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("X-Ward:", "peer", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("", "peer", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::unverified("Bad Name").ok());
    CHECK_FALSE(IdentityStamp::make("content-length", "peer", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::make("v", "peer", "l", "c").ok());
    CHECK_FALSE(IdentityStamp::unverified("Call-ID").ok());
    auto refused = IdentityStamp::make("X-Ward-TLS-Peer", "a\nb", "l", "c");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error() == "peer subject contains a control character");
}

// --- after the end -----------------------------------------------------------------------

TEST_CASE("a closed framer stays closed") {
    Framer framer(Direction::from_peer, {}, test_stamp());
    const auto first = framer.feed("GET / HTTP/1.1\r\n");
    CHECK(first.close);
    CHECK(framer.closed());
    const auto again = framer.feed(options("late@example.com"));
    CHECK(again.close);
    CHECK(again.forward.empty());
    CHECK(again.reply.empty());
    CHECK(framer.buffered() == 0);
}
