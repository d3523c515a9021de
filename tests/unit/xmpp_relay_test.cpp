// SPDX-License-Identifier: Apache-2.0
// The pure pieces around the XMPP negotiation: the backend's features as ward passes them on,
// the RFC 6125 / RFC 7590 server identity of a certificate, the outbound STARTTLS initiator
// and the post-TLS stream guard. The initiator and the guard are fed every input whole, split
// in two at every index, and byte by byte; all must give the same result.
#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/xmpp_wire.hpp"
#include "proxy/ops/pki.hpp"
#include "xmpp/features.hpp"
#include "xmpp/identity.hpp"
#include "xmpp/initiator.hpp"
#include "xmpp/stream_guard.hpp"

using namespace ward;
using namespace ward::xmpp;
using ward::test::xmpp_wire::server_spec;

namespace {

std::vector<std::vector<std::string_view>> every_split(std::string_view input) {
    std::vector<std::vector<std::string_view>> out;
    out.push_back({input});
    for (std::size_t i = 0; i <= input.size(); ++i) out.push_back({input.substr(0, i), input.substr(i)});
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    out.push_back(bytes);
    return out;
}

tls::UniqueX509 certificate(const ops::CertSpec& spec) {
    auto r = ops::issue_certificate(spec, nullptr);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
    return std::move(r->cert);
}

}  // namespace

TEST_CASE("xmpp features: starttls and compression are taken out and nothing else changes") {
    const std::string raw =
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
        "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method></compression>"
        "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>"
        "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";
    const auto out = rewrite_features(raw, false);
    CHECK(out.removed == 2);
    CHECK(out.text ==
          "<stream:features><mechanisms xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><mechanism>SCRAM-SHA-1</mechanism>"
          "</mechanisms><dialback xmlns=\"urn:xmpp:features:dialback\"/></stream:features>");
    // Nothing to change: the bytes as received.
    const std::string plain = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    CHECK(rewrite_features(plain, false).text == plain);
    // A stream error in place of features passes unchanged, even when STARTTLS is to be offered.
    const std::string error = "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    CHECK(rewrite_features(error, true).text == error);
    // Same names in other namespaces stay.
    const std::string foreign = "<stream:features><starttls xmlns='urn:example:other'/></stream:features>";
    CHECK(rewrite_features(foreign, false).text == foreign);
}

TEST_CASE("xmpp features: secure mode off puts ward's optional starttls first") {
    const auto out = rewrite_features(
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
        "</mechanisms></stream:features>",
        true);
    CHECK(out.text ==
          "<stream:features><starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/><mechanisms "
          "xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    CHECK(offers_starttls(out.text));
    CHECK_FALSE(offers_starttls("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>"));
    // Escaped text and attributes survive the rewrite with the same meaning.
    const auto escaped = rewrite_features(
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><x xmlns='urn:x' a='&apos;&quot;&lt;'>"
        "&amp;&lt;</x></stream:features>",
        false);
    CHECK(escaped.text == "<stream:features><x xmlns=\"urn:x\" a=\"'&quot;&lt;\">&amp;&lt;</x></stream:features>");
}

TEST_CASE("xmpp identity: the peer's domain must be a host name") {
    const auto wild = certificate(server_spec({"x"}, {"*.example.org"}));
    CHECK(check_server_identity(wild.get(), "chat.example.org").empty());
    CHECK_FALSE(check_server_identity(wild.get(), "*.example.org").empty());
    CHECK_FALSE(check_server_identity(wild.get(), "u@chat.example.org").empty());
    CHECK_FALSE(check_server_identity(wild.get(), "-x.example.org").empty());
    CHECK_FALSE(check_server_identity(wild.get(), "").empty());
}

TEST_CASE("xmpp identity: DNS-ID rules") {
    CHECK(dns_id_matches("example.org", "EXAMPLE.org"));
    CHECK(dns_id_matches("example.org.", "example.org"));
    CHECK(dns_id_matches("*.example.org", "chat.example.org"));
    CHECK_FALSE(dns_id_matches("*.example.org", "example.org"));
    CHECK_FALSE(dns_id_matches("*.example.org", "a.chat.example.org"));
    CHECK_FALSE(dns_id_matches("*.org", "example.org"));
    CHECK_FALSE(dns_id_matches("c*.example.org", "chat.example.org"));
    CHECK_FALSE(dns_id_matches("*.*.example.org", "a.b.example.org"));
    CHECK_FALSE(dns_id_matches("", ""));
}

TEST_CASE("xmpp identity: DNS-ID SRV-ID XmppAddr and the CN only when none of them is present") {
    CHECK(check_server_identity(certificate(server_spec({"x"}, {"a.example"})).get(), "a.example").empty());
    CHECK(check_server_identity(certificate(server_spec({"x"}, {}, {"_xmpp-server.a.example"})).get(), "a.example").empty());
    // An SRV-ID for the client service does not name a server.
    CHECK_FALSE(check_server_identity(certificate(server_spec({"x"}, {}, {"_xmpp-client.a.example"})).get(), "a.example").empty());
    CHECK(check_server_identity(certificate(server_spec({"x"}, {}, {}, {"a.example"})).get(), "a.example").empty());
    CHECK(check_server_identity(certificate(server_spec({"a.example"})).get(), "a.example").empty());
    // With any SAN identifier the CN is not looked at.
    CHECK_FALSE(check_server_identity(certificate(server_spec({"a.example"}, {"b.example"})).get(), "a.example").empty());
    // Two CNs: no fallback.
    CHECK_FALSE(check_server_identity(certificate(server_spec({"a.example", "b.example"})).get(), "a.example").empty());
    CHECK_FALSE(check_server_identity(nullptr, "a.example").empty());
    const auto ids = presented_identifiers(certificate(server_spec({"cn"}, {"d"}, {"_xmpp-server.s"}, {"x"})).get());
    CHECK(ids.dns_ids == std::vector<std::string>{"d"});
    CHECK(ids.srv_ids == std::vector<std::string>{"_xmpp-server.s"});
    CHECK(ids.xmpp_addrs == std::vector<std::string>{"x"});
    CHECK(ids.common_names == std::vector<std::string>{"cn"});
}

namespace {

constexpr std::string_view kRemoteOpening =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='r1' from='b.example' version='1.0'><stream:features><starttls "
    "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
constexpr std::string_view kProceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

struct InitiatorOutcome {
    std::string sent;
    bool start_tls = false;
    bool close = false;
    bool operator==(const InitiatorOutcome&) const = default;
};

void check_initiator(std::string_view input, const InitiatorOutcome& expected) {
    for (const auto& chunks : every_split(input)) {
        // A split right after <proceed/> leaves an empty or a non-empty last chunk; the engine
        // starts TLS when the chunk that completed <proceed/> was the last one read.
        InitiatorOutcome got;
        Initiator initiator({"a.example", "b.example", {}});
        bool tls = false;
        std::size_t unread = 0;
        for (const auto chunk : chunks) {
            if (tls || got.close) {
                unread += chunk.size();
                continue;
            }
            auto a = initiator.feed(chunk);
            got.sent += a.send;
            tls = a.start_tls;
            got.close = a.close;
        }
        got.start_tls = tls && unread == 0;
        if (tls && unread > 0) got.close = true;  // what the engine does with bytes after <proceed/>
        CHECK(got == expected);
    }
}

}  // namespace

TEST_CASE("xmpp initiator: header features starttls proceed at every split") {
    Initiator initiator({"a.example", "b.example", {}});
    CHECK(initiator.opening() ==
          "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
          "xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>");
    InitiatorOutcome ok;
    ok.sent = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    ok.start_tls = true;
    check_initiator(std::string(kRemoteOpening) + std::string(kProceed), ok);

    InitiatorOutcome injected;
    injected.sent = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    injected.close = true;
    check_initiator(std::string(kRemoteOpening) + std::string(kProceed) + "<message/>", injected);

    InitiatorOutcome no_tls;
    no_tls.sent = "</stream:stream>";
    no_tls.close = true;
    check_initiator("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                    "version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
                    no_tls);

    InitiatorOutcome failure;
    failure.sent = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    failure.close = true;
    check_initiator(std::string(kRemoteOpening) + "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", failure);

    InitiatorOutcome old;
    old.sent = "<stream:error><unsupported-version xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
    old.close = true;
    check_initiator("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", old);
}

namespace {

constexpr std::string_view kPeerHeader =
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>";

// `primed`: the guard goes on with a tokenizer that has parsed the header already (as the
// negotiation hands it on), else it parses the header itself.
GuardOutput run_guard(const std::vector<std::string_view>& chunks, bool s2s, bool primed) {
    std::function<bool(std::string_view)> covers;
    if (s2s) covers = [](std::string_view d) { return d == "a.example"; };
    StreamTokenizer tokenizer;
    if (primed) {
        // (In two pieces: the negotiation reads the header as it comes.)
        CHECK(tokenizer.feed(kPeerHeader.substr(0, 30)).empty());
        CHECK(tokenizer.feed(kPeerHeader.substr(30)).size() == 1);
    }
    StreamGuard guard = primed ? StreamGuard(std::move(tokenizer), covers, {}) : StreamGuard(kPeerHeader, covers, {});
    GuardOutput all;
    for (const auto chunk : chunks) {
        auto g = guard.feed(chunk);
        all.forward += g.forward;
        all.reply += g.reply;
        all.close = all.close || g.close;
        if (g.close) break;
    }
    return all;
}

void check_guard(std::string_view input, bool s2s, const std::string& forward, const std::string& reply, bool close) {
    for (const bool primed : {false, true}) {
        for (const auto& chunks : every_split(input)) {
            const auto g = run_guard(chunks, s2s, primed);
            CHECK(g.forward == forward);
            CHECK(g.reply == reply);
            CHECK(g.close == close);
        }
    }
}

}  // namespace

TEST_CASE("xmpp guard: nothing after the peer's close tag goes on - whitespace is dropped and the rest closes") {
    const std::string message = "<db:result from='a.example' to='b.example'>k</db:result>";
    const std::string evil = "<db:result from='evil.example' to='b.example'>k</db:result>";
    check_guard(message + "</stream:stream>" + evil, true, message + "</stream:stream>", "", true);
    check_guard("</stream:stream><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", false, "</stream:stream>", "", true);
    check_guard(message + "</stream:stream> \r\n\t ", true, message + "</stream:stream>", "", false);
    check_guard("</stream:stream>\n x", false, "</stream:stream>", "", true);
}

TEST_CASE("xmpp guard: a header that closes itself ends the stream and holds nothing after it") {
    const std::string closed_header =
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'/>";
    StreamGuard guard(closed_header, [](std::string_view d) { return d == "a.example"; }, {});
    const std::string chunk(64 * 1024, ' ');
    for (int i = 0; i < 16; ++i) {
        const auto g = guard.feed(chunk);
        CHECK(g.forward.empty());
        CHECK_FALSE(g.close);
    }
    CHECK(guard.held_bytes() == 0);
    const auto g = guard.feed("<db:result from='evil.example' to='b.example'>k</db:result>");
    CHECK(g.forward.empty());
    CHECK(g.close);
    CHECK(guard.held_bytes() == 0);
}

TEST_CASE("xmpp guard: only a tokenizer inside an open stream can be handed on") {
    CHECK_THROWS_AS(StreamGuard(StreamTokenizer(), {}, {}), std::invalid_argument);
    StreamTokenizer half;
    CHECK(half.feed(kPeerHeader.substr(0, 40)).empty());
    CHECK_THROWS_AS(StreamGuard(std::move(half), {}, {}), std::invalid_argument);
    StreamTokenizer closed;
    CHECK(closed.feed(std::string(kPeerHeader) + "</stream:stream>").size() == 2);
    CHECK_THROWS_AS(StreamGuard(std::move(closed), {}, {}), std::invalid_argument);
}

TEST_CASE("xmpp guard: an s2s peer's ever new names pass - its parser is replaced, not its stream refused") {
    // A remote server relays whatever names its users send; expat's memory for them stays
    // bounded by replacing the parser between stanzas (see the tokenizer's tests).
    StreamGuard guard(kPeerHeader, [](std::string_view d) { return d == "a.example"; }, {});
    std::string sent, forwarded;
    for (int i = 0; i < 20000; ++i) {
        const std::string element = "<x" + std::to_string(i) + " y" + std::to_string(i) + "='1'/>";
        sent += element;
        const auto g = guard.feed(element);
        REQUIRE_FALSE(g.close);
        forwarded += g.forward;
    }
    // A dialback result for a domain the certificate does not name is still refused after it.
    const auto g = guard.feed("<db:result from='evil.example' to='b.example'>k</db:result>");
    CHECK(g.close);
    CHECK(g.forward.empty());
    CHECK(forwarded == sent);
}

TEST_CASE("xmpp guard: a tokenizer handed on from the negotiation takes the relay's caps") {
    // The negotiation parses under its own caps; the relay allows larger elements.
    TokenizerLimits negotiation;
    negotiation.max_element_size = 64;
    TokenizerLimits relay;
    relay.max_element_size = 4096;
    const std::string big = "<message to='b@example.org'><body>" + std::string(200, 'x') + "</body></message>";
    for (const bool raised : {false, true}) {
        StreamTokenizer tokenizer(negotiation);
        REQUIRE(tokenizer.feed(kPeerHeader).size() == 1);
        StreamGuard guard(std::move(tokenizer), {}, raised ? relay : negotiation);
        const auto g = guard.feed(big);
        CHECK(g.close == !raised);
        CHECK(g.forward == (raised ? big : std::string()));
    }
}

TEST_CASE("xmpp guard: starttls on an encrypted stream is answered with failure and not forwarded") {
    const std::string failure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
    // <proceed/> (which stops the tokenizer) and whatever follows it never pass either.
    check_guard("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><db:result from='evil.example' to='b.example'>k"
                "</db:result>",
                true, "", failure, true);
    check_guard("<db:result from='a.example' to='b.example'>k</db:result><proceed "
                "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>junk",
                true, "<db:result from='a.example' to='b.example'>k</db:result>", failure, true);
    check_guard(" <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message/>", false, " ", failure, true);
    check_guard("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", true, "", failure, true);
    // c2s: after a first element that is not STARTTLS, everything passes untouched.
    check_guard("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
                false, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
                "", false);
}

TEST_CASE("xmpp guard: dialback for a domain the certificate does not name ends the stream and nothing after it passes") {
    const std::string ours = "<db:result from='a.example' to='b.example'>k1</db:result>";
    const std::string theirs = "<db:result from='evil.example' to='b.example'>k2</db:result>";
    const std::string message = "<message from='u@a.example' to='v@b.example'><body>x</body></message>";
    const std::string not_authorized =
        "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
    check_guard(ours + " " + theirs + message + " ", true, ours + " ", not_authorized, true);
    // Any prefix bound to the dialback namespace is the same element.
    check_guard("<x:result xmlns:x='jabber:server:dialback' from='evil.example' to='b.example'>k</x:result>", true, "",
                not_authorized, true);
    // Covered dialback and stanzas pass, split anywhere.
    check_guard(ours + " " + message + " ", true, ours + " " + message + " ", "", false);
    // The end of the stream passes too.
    check_guard(message + "</stream:stream>", true, message + "</stream:stream>", "", false);
}
