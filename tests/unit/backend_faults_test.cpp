// SPDX-License-Identifier: Apache-2.0
// What the relay needs to answer for a backend that fails: where an XMPP backend's stream
// stands when it stops (a stream error is well-formed only between stanzas), and which SIP
// requests the other side left unanswered (each gets ward's 408). Every XMPP input is fed whole,
// byte by byte and split at every index: the answer must not depend on the chunking.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "sip/message_head.hpp"
#include "sip/pending_requests.hpp"
#include "xmpp/stream_boundary.hpp"

using namespace ward;

namespace {

constexpr std::string_view kOpen =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "from='example.org' id='x1' version='1.0'>"
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>";

struct Where {
    bool boundary = false;
    bool closed = false;
    bool lost = false;
};

Where fed_whole(std::string_view bytes) {
    xmpp::StreamBoundary b;
    b.feed(bytes);
    return {b.at_boundary(), b.closed(), b.lost()};
}

// The same answer at every chunking.
Where at_every_split(std::string_view bytes) {
    const auto whole = fed_whole(bytes);
    xmpp::StreamBoundary bytewise;
    for (const char c : bytes) bytewise.feed(std::string_view(&c, 1));
    CHECK(bytewise.at_boundary() == whole.boundary);
    CHECK(bytewise.closed() == whole.closed);
    CHECK(bytewise.lost() == whole.lost);
    for (std::size_t i = 1; i < bytes.size(); ++i) {
        xmpp::StreamBoundary split;
        split.feed(bytes.substr(0, i));
        split.feed(bytes.substr(i));
        CHECK(split.at_boundary() == whole.boundary);
        CHECK(split.closed() == whole.closed);
    }
    return whole;
}

std::string s(std::string_view a, std::string_view b = {}) { return std::string(a).append(b); }

}  // namespace

TEST_CASE("xmpp boundary: after the header and features and after each complete stanza") {
    CHECK(at_every_split(kOpen).boundary);
    CHECK(at_every_split(s(kOpen, "<message to='a@b'><body>hi</body></message>\n ")).boundary);
    CHECK(at_every_split(s(kOpen, "<iq type='result' id='1'/>")).boundary);
}

TEST_CASE("xmpp boundary: not inside a stanza nor inside a tag nor after text at the stream level") {
    CHECK_FALSE(at_every_split(s(kOpen, "<message to='a@b'><body>h")).boundary);
    CHECK_FALSE(at_every_split(s(kOpen, "<message to='a@b'/><mess")).boundary);
    CHECK_FALSE(at_every_split(s(kOpen, "<iq/>x")).boundary);
    CHECK_FALSE(fed_whole("<?xml version='1.0'?><stream:str").boundary);
}

TEST_CASE("xmpp boundary: the stream closed is no boundary and a DOCTYPE or what cannot be XML loses the position") {
    const auto closed = at_every_split(s(kOpen, "<iq/></stream:stream>"));
    CHECK(closed.closed);
    CHECK_FALSE(closed.boundary);
    const auto doctype = fed_whole("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream>");
    CHECK(doctype.lost);
    CHECK_FALSE(doctype.boundary);
    for (const auto* broken : {"<iq a='<'/>", "< iq/>", "text at the stream level is content, this is not: <iq/ >"}) {
        INFO(broken);
        const auto b = fed_whole(s(kOpen, broken));
        CHECK_FALSE(b.boundary);
    }
    CHECK(fed_whole(s(kOpen, "<iq a='<'/>")).lost);
    CHECK(fed_whole(std::string("<") + std::string(100, 'n') + ">").lost);  // no name is that long
}

TEST_CASE("xmpp boundary: quoted markup comments and CDATA inside a stanza do not end it") {
    CHECK_FALSE(at_every_split(s(kOpen, "<message a='/>' b=\">x/>\"><body>")).boundary);
    CHECK(at_every_split(s(kOpen, "<message a='/>' b=\">x/>\"><body><![CDATA[</message>]]></body></message>")).boundary);
    CHECK(at_every_split(s(kOpen, "<message><!-- </message> --></message><!-- between -->")).boundary);
    CHECK_FALSE(at_every_split(s(kOpen, "<message><!-- </message> -->")).boundary);
}

TEST_CASE("xmpp boundary: a stream restart with or without a declaration replaces the stream element") {
    const std::string restart =
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "id='x2' version='1.0'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    CHECK(at_every_split(s(kOpen, restart)).boundary);
    CHECK(at_every_split(s(kOpen, restart + "<iq type='result' id='b'/>")).boundary);
    const std::string bare = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    CHECK(at_every_split(s(kOpen, bare)).boundary);
    // After the restart one end tag ends the stream: nothing is left to write an error into.
    xmpp::StreamBoundary b;
    b.feed(s(kOpen, bare + "<iq/></stream:stream>"));
    CHECK(b.closed());
    CHECK(b.error("remote-connection-failed").empty());
}

TEST_CASE("xmpp boundary: the error is written in the stream element's own prefix - none for another root") {
    xmpp::StreamBoundary usual;
    usual.feed(kOpen);
    CHECK(usual.error("remote-connection-failed") ==
          "<stream:error><remote-connection-failed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
          "</stream:stream>");
    xmpp::StreamBoundary other;
    other.feed("<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'><iq/>");
    CHECK(other.error("remote-connection-failed") ==
          "<s:error><remote-connection-failed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error></s:stream>");
    xmpp::StreamBoundary not_a_stream;
    not_a_stream.feed("<html><iq/>");
    CHECK(not_a_stream.at_boundary());
    CHECK(not_a_stream.error("remote-connection-failed").empty());
    xmpp::StreamBoundary mid;
    mid.feed(s(kOpen, "<iq>"));
    CHECK(mid.error("remote-connection-failed").empty());
}

TEST_CASE("xmpp boundary: a megabyte attribute fed a byte at a time and deep nesting hold nothing") {
    // The scanner keeps no bytes: its size does not change whatever it is fed.
    xmpp::StreamBoundary b;
    b.feed(kOpen);
    b.feed("<message><body a='");
    const std::string value(1 << 20, 'A');
    for (const char c : value) b.feed(std::string_view(&c, 1));
    CHECK_FALSE(b.at_boundary());
    b.feed("'/></message>");
    CHECK(b.at_boundary());
    CHECK_FALSE(b.lost());
    for (int i = 0; i < 100000; ++i) b.feed("<a>");
    CHECK_FALSE(b.at_boundary());
    for (int i = 0; i < 100000; ++i) b.feed("</a>");
    CHECK(b.at_boundary());
    CHECK(sizeof(xmpp::StreamBoundary) < 256);
}

namespace {

using clock = sip::PendingRequests::clock;

struct Parsed {
    std::string head;
    sip::MessageHead parsed;
};

Parsed head(std::string text) {
    Parsed p{std::move(text), {}};
    sip::parse_message_head(p.head, true, "", p.parsed);
    REQUIRE(p.parsed.error_status == 0);
    return p;
}

Parsed request(std::string_view method, std::string_view cseq, std::string_view call_id = "c1@a") {
    return head(std::string(method) + " sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/TLS a.example;branch=z9hG4bK1\r\n"
                "From: <sip:alice@a.example>;tag=1\r\nTo: <sip:bob@b.example>\r\nCall-ID: " + std::string(call_id) +
                "\r\nCSeq: " + std::string(cseq) + "\r\nContent-Length: 0\r\n\r\n");
}

Parsed response(int status, std::string_view cseq, std::string_view call_id = "c1@a") {
    return head("SIP/2.0 " + std::to_string(status) + " X\r\nVia: SIP/2.0/TLS a.example;branch=z9hG4bK1\r\n"
                "From: <sip:alice@a.example>;tag=1\r\nTo: <sip:bob@b.example>;tag=2\r\nCall-ID: " + std::string(call_id) +
                "\r\nCSeq: " + std::string(cseq) + "\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace

TEST_CASE("sip pending: a request unanswered for the timeout gets 408 once and in order") {
    using namespace std::chrono_literals;
    sip::PendingRequests pending(30s);
    const auto t0 = clock::now();
    const auto invite = request("INVITE", "1 INVITE");
    const auto options = request("OPTIONS", "7 OPTIONS", "c2@a");
    pending.forwarded(invite.head, invite.parsed, t0);
    pending.forwarded(options.head, options.parsed, t0 + 1s);
    REQUIRE(pending.due());
    CHECK(*pending.due() == t0 + 30s);
    CHECK(pending.expire(t0 + 29s).empty());
    const auto first = pending.expire(t0 + 30s);
    CHECK(first.rfind("SIP/2.0 408 Request Timeout\r\n", 0) == 0);
    CHECK(first.find("CSeq: 1 INVITE\r\n") != std::string::npos);
    CHECK(first.find("OPTIONS") == std::string::npos);
    CHECK(*pending.due() == t0 + 31s);
    const auto second = pending.expire(t0 + 40s);
    CHECK(second.find("CSeq: 7 OPTIONS\r\n") != std::string::npos);
    CHECK_FALSE(pending.due());
    CHECK(pending.expire(t0 + 100s).empty());
}

TEST_CASE("sip pending: any response of the transaction takes it off and another transaction's does not") {
    using namespace std::chrono_literals;
    sip::PendingRequests pending(30s);
    const auto t0 = clock::now();
    const auto invite = request("INVITE", "1 INVITE");
    pending.forwarded(invite.head, invite.parsed, t0);
    const auto other_call = response(100, "1 INVITE", "other@a");
    const auto cancel = response(200, "1 CANCEL");
    pending.returned(other_call.head, other_call.parsed);
    pending.returned(cancel.head, cancel.parsed);
    CHECK(pending.size() == 1);
    const auto trying = response(100, "01   INVITE");  // compared as a number and a method
    pending.returned(trying.head, trying.parsed);
    CHECK(pending.size() == 0);
    CHECK(pending.expire(t0 + 60s).empty());
}

TEST_CASE("sip pending: ACK and responses are not tracked, a retransmission keeps the first clock, the list is bounded") {
    using namespace std::chrono_literals;
    sip::PendingRequests pending(30s, 2);
    const auto t0 = clock::now();
    const auto ack = request("ACK", "1 ACK");
    const auto answer = response(200, "1 INVITE");
    pending.forwarded(ack.head, ack.parsed, t0);
    pending.forwarded(answer.head, answer.parsed, t0);
    CHECK(pending.size() == 0);
    const auto invite = request("INVITE", "1 INVITE");
    pending.forwarded(invite.head, invite.parsed, t0);
    pending.forwarded(invite.head, invite.parsed, t0 + 5s);
    CHECK(pending.size() == 1);
    CHECK(*pending.due() == t0 + 30s);
    const auto a = request("OPTIONS", "2 OPTIONS");
    const auto b = request("OPTIONS", "3 OPTIONS");
    pending.forwarded(a.head, a.parsed, t0);
    pending.forwarded(b.head, b.parsed, t0);
    CHECK(pending.size() == 2);
}

TEST_CASE("sip pending: the bytes held are bounded - requests with many Vias beyond it go untracked") {
    using namespace std::chrono_literals;
    sip::PendingRequests pending(30s, 64, 4096);
    const auto t0 = clock::now();
    std::string vias;
    for (int i = 0; i < 20; ++i) vias += "Via: SIP/2.0/TLS relay" + std::to_string(i) + ".example;branch=z9hG4bK" + std::to_string(i) + "\r\n";
    for (int i = 0; i < 64; ++i) {
        auto r = request("OPTIONS", std::to_string(i) + " OPTIONS");
        r.head.insert(r.head.find("Via:"), vias);
        sip::parse_message_head(r.head, true, "", r.parsed);
        REQUIRE(r.parsed.error_status == 0);
        pending.forwarded(r.head, r.parsed, t0);
    }
    CHECK(pending.bytes() <= 4096);
    CHECK(pending.size() >= 1);
    CHECK(pending.size() < 64);
    const auto before = pending.size();
    pending.expire(t0 + 31s);
    CHECK(pending.bytes() == 0);
    CHECK(before > 0);
}
