// SPDX-License-Identifier: Apache-2.0
// Pre-TLS XMPP negotiation (receiving entity): the exact bytes ward writes and what the engine
// must do next. Every input is fed whole, split in two at every index, and byte by byte, and
// all must produce the same outcome, as an engine that stops feeding at the first
// proceed / relay / close would see it.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/support/xmpp_wire.hpp"
#include "xmpp/negotiation.hpp"

using namespace ward::xmpp;
using ward::test::xmpp_wire::cat;
using ward::test::xmpp_wire::error_text;

namespace {

struct Outcome {
    std::string sent;
    bool proceed = false;
    bool relay_plaintext = false;
    bool close = false;
    // Bytes the engine still held when told to start TLS: the injection it must refuse. (After
    // a close or a relay, bytes left over are of no interest.)
    std::size_t unfed = 0;
    bool operator==(const Outcome&) const = default;
};

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Outcome> {
    static String convert(const Outcome& o) {
        const std::string text = "\nsent: " + printable(o.sent) + "\nproceed: " + (o.proceed ? "yes" : "no") +
                                 " relay_plaintext: " + (o.relay_plaintext ? "yes" : "no") +
                                 " close: " + (o.close ? "yes" : "no") + " unfed: " + std::to_string(o.unfed) + "\n";
        return String(text.c_str());
    }
};
}  // namespace doctest

namespace {

// What the engine sends in secure mode off (the backend's header and features), as a marker.
constexpr std::string_view kBackendOpening = "[backend opening]";

NegotiationConfig make_config(StreamKind kind = StreamKind::c2s, bool secure = true) {
    NegotiationConfig config;
    config.domains = {"example.org", "Chat.Example.NET"};
    config.secure = secure;
    config.kind = kind;
    config.make_stream_id = [] { return std::string("s1"); };
    return config;
}

Outcome drive(const NegotiationConfig& config, const std::vector<std::string_view>& chunks) {
    Negotiation negotiation(config);
    Outcome out;
    bool ended = false;
    for (const auto chunk : chunks) {
        if (ended) {
            if (out.proceed) out.unfed += chunk.size();
            continue;
        }
        NegotiationActions actions = negotiation.feed(chunk);
        if (actions.need_backend) {
            // The engine opens the backend's stream and sends its header and features on.
            out.sent += actions.send;
            out.sent += kBackendOpening;
            actions = negotiation.resume();
        }
        out.sent += actions.send;
        out.proceed = out.proceed || actions.proceed;
        out.relay_plaintext = out.relay_plaintext || actions.relay_plaintext;
        out.close = out.close || actions.close;
        ended = actions.proceed || actions.relay_plaintext || actions.close;
    }
    return out;
}

std::vector<Outcome> every_split(const NegotiationConfig& config, std::string_view input) {
    std::vector<Outcome> outcomes;
    outcomes.push_back(drive(config, {input}));
    for (std::size_t i = 0; i <= input.size(); ++i) outcomes.push_back(drive(config, {input.substr(0, i), input.substr(i)}));
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    outcomes.push_back(drive(config, bytes));
    return outcomes;
}

void check_every_split(const NegotiationConfig& config, std::string_view input, const Outcome& expected) {
    const auto outcomes = every_split(config, input);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        INFO("run " << i << " (0: whole; 1..n+1: split at i-1; last: byte by byte)");
        CHECK(outcomes[i] == expected);
    }
}

Outcome closed_with(std::string sent) {
    Outcome o;
    o.sent = std::move(sent);
    o.close = true;
    return o;
}

constexpr std::string_view kClientHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.org' version='1.0'>";
constexpr std::string_view kWardHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='s1' from='example.org' version='1.0'>";
constexpr std::string_view kFeaturesRequired =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
constexpr std::string_view kStarttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
constexpr std::string_view kProceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

}  // namespace

TEST_CASE("xmpp negotiation answers header then features then proceed") {
    Outcome expected;
    expected.sent = cat({kWardHeader, kFeaturesRequired, kProceed});
    expected.proceed = true;
    check_every_split(make_config(), cat({kClientHeader, kStarttls}), expected);
    // Whitespace before starttls and an explicit end tag change nothing.
    check_every_split(make_config(),
                      cat({kClientHeader, "\n  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>"}),
                      expected);
}

TEST_CASE("xmpp negotiation sends the header and features as soon as the header is complete") {
    Negotiation negotiation(make_config());
    const auto actions = negotiation.feed(kClientHeader);
    CHECK(actions.send == cat({kWardHeader, kFeaturesRequired}));
    CHECK_FALSE(actions.close);
    CHECK_FALSE(actions.proceed);
    CHECK(negotiation.domain() == "example.org");
    REQUIRE(negotiation.client_header() != nullptr);
    CHECK(negotiation.client_header()->raw == kClientHeader);
}

TEST_CASE("xmpp negotiation closes on bytes after starttls") {
    const std::string input = cat({kClientHeader, kStarttls, "<message/>"});
    const std::size_t starttls_end = kClientHeader.size() + kStarttls.size();
    const auto outcomes = every_split(make_config(), input);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        INFO("run " << i);
        const Outcome& o = outcomes[i];
        const bool split_at_boundary = (i >= 1 && i - 1 == starttls_end) || i + 1 == outcomes.size();
        if (split_at_boundary) {
            // The chunk ended exactly at `>`: proceed, and the engine, which still holds bytes
            // the client sent before any ClientHello, must close instead of starting TLS.
            CHECK(o.proceed);
            CHECK(o.unfed > 0);
            CHECK(o.sent == cat({kWardHeader, kFeaturesRequired, kProceed}));
        } else {
            CHECK(o == closed_with(cat({kWardHeader, kFeaturesRequired})));
        }
    }
    // If the engine feeds after proceed anyway, that is a close too.
    Negotiation negotiation(make_config());
    CHECK(negotiation.feed(cat({kClientHeader, kStarttls})).proceed);
    const auto after = negotiation.feed("\x16");
    CHECK(after.close);
    CHECK(after.send.empty());
}

TEST_CASE("xmpp negotiation refuses a stanza before TLS") {
    check_every_split(make_config(), cat({kClientHeader, "<message to='a@example.org'><body>hi</body></message>"}),
                      closed_with(cat({kWardHeader, kFeaturesRequired, error_text("not-authorized")})));
    check_every_split(make_config(), cat({kClientHeader, "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"}),
                      closed_with(cat({kWardHeader, kFeaturesRequired, error_text("not-authorized")})));
    // compression (ejabberd PR #316) is just another element before TLS.
    check_every_split(make_config(), cat({kClientHeader, "<compress xmlns='http://jabber.org/protocol/compress'/>"}),
                      closed_with(cat({kWardHeader, kFeaturesRequired, error_text("not-authorized")})));
}

TEST_CASE("xmpp negotiation answers auth before TLS with encryption required") {
    check_every_split(
        make_config(),
        cat({kClientHeader, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABy</auth>"}),
        closed_with(cat({kWardHeader, kFeaturesRequired,
                         "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>"
                         "</stream:stream>"})));
}

TEST_CASE("xmpp negotiation refuses dialback before TLS on s2s") {
    const std::string client =
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback' from='remote.example' to='example.org' version='1.0'>"
        "<db:result from='remote.example' to='example.org'>abc</db:result>";
    const std::string header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback' id='s1' from='example.org' to='remote.example' version='1.0'>";
    check_every_split(make_config(StreamKind::s2s), client,
                      closed_with(header + std::string(kFeaturesRequired) + error_text("not-authorized")));
}

TEST_CASE("xmpp negotiation refuses DOCTYPE and billion laughs with restricted xml") {
    const std::string laughs =
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' "
        "version='1.0'>&lol2;";
    check_every_split(make_config(), laughs, closed_with(std::string(kWardHeader) + error_text("restricted-xml")));
    check_every_split(make_config(), "<!DOCTYPE x SYSTEM 'file:///etc/passwd'><stream:stream>",
                      closed_with(std::string(kWardHeader) + error_text("restricted-xml")));
}

TEST_CASE("xmpp negotiation refuses comments and processing instructions with restricted xml") {
    check_every_split(make_config(), cat({"<!-- hi -->", kClientHeader}),
                      closed_with(std::string(kWardHeader) + error_text("restricted-xml")));
    check_every_split(make_config(), cat({"<?xml version='1.0'?><?foo bar?>", kClientHeader}),
                      closed_with(std::string(kWardHeader) + error_text("restricted-xml")));
    check_every_split(make_config(), cat({kClientHeader, "<!-- hi -->"}),
                      closed_with(cat({kWardHeader, kFeaturesRequired, error_text("restricted-xml")})));
}

TEST_CASE("xmpp negotiation checks the stream namespace") {
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.example/streams' "
                      "to='example.org' version='1.0'>",
                      closed_with(std::string(kWardHeader) + error_text("invalid-namespace")));
    check_every_split(make_config(), "<stream xmlns='jabber:client' to='example.org' version='1.0'>",
                      closed_with(std::string(kWardHeader) + error_text("invalid-namespace")));
    // jabber:server on the c2s listener.
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org' version='1.0'>",
                      closed_with(std::string(kWardHeader) + error_text("invalid-namespace")));
    // Namespace is checked before version and to.
    check_every_split(make_config(), "<stream:stream xmlns:stream='urn:x' xmlns='jabber:client' to='nope'>",
                      closed_with(std::string(kWardHeader) + error_text("invalid-namespace")));
}

TEST_CASE("xmpp negotiation checks the version") {
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org'>",
                      closed_with(std::string(kWardHeader) + error_text("unsupported-version")));
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org' version='0.9'>",
                      closed_with(std::string(kWardHeader) + error_text("unsupported-version")));
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org' version='one'>",
                      closed_with(std::string(kWardHeader) + error_text("unsupported-version")));
    // A later version is answered with 1.0 (section 4.7.5).
    Outcome later;
    later.sent = cat({kWardHeader, kFeaturesRequired});
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org' version='1.10'>",
                      later);
}

TEST_CASE("xmpp negotiation checks the to domain") {
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='other.example' version='1.0'>",
                      closed_with(std::string(kWardHeader) + error_text("host-unknown")));
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "version='1.0'>",
                      closed_with(std::string(kWardHeader) + error_text("improper-addressing")));
    // Matched case-insensitively; ward answers with the configured spelling, and 'to' echoes
    // the client's 'from', escaped.
    Outcome ok;
    ok.sent = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='Chat.Example.NET' "
              "to='o&apos;neil@chat.example.net' version='1.0'>" +
              std::string(kFeaturesRequired);
    check_every_split(make_config(),
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='CHAT.example.net' from=\"o'neil@chat.example.net\" version='1.0'>",
                      ok);
}

TEST_CASE("xmpp negotiation caps header and element size and depth") {
    NegotiationConfig config = make_config();
    config.limits.max_header_size = 300;
    config.limits.max_element_size = 200;
    config.limits.max_depth = 3;
    check_every_split(config,
                      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                      "to='example.org' version='1.0' x='" +
                          std::string(300, 'a') + "'>",
                      closed_with(std::string(kWardHeader) + error_text("policy-violation")));
    config.secure = false;  // so a small element that passes the caps is visibly relayed
    check_every_split(config, cat({kClientHeader, "<message><body>", std::string(200, 'x'), "</body></message>"}),
                      closed_with(cat({kBackendOpening, error_text("policy-violation")})));
    check_every_split(config, cat({kClientHeader, "<a><b><c><d/></c></b></a>"}),
                      closed_with(cat({kBackendOpening, error_text("policy-violation")})));
    Outcome relayed;
    relayed.sent = cat({kBackendOpening});
    relayed.relay_plaintext = true;
    check_every_split(config, cat({kClientHeader, "<a><b><c/></b></a>"}), relayed);
}

TEST_CASE("xmpp negotiation answers HTTP and a TLS ClientHello with not well formed") {
    check_every_split(make_config(), "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
                      closed_with(std::string(kWardHeader) + error_text("not-well-formed")));
    const std::string client_hello("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11);
    check_every_split(make_config(), client_hello,
                      closed_with(std::string(kWardHeader) + error_text("not-well-formed")));
    // Before the header, the s2s listener speaks jabber:server.
    check_every_split(make_config(StreamKind::s2s), "GET / HTTP/1.1\r\n",
                      closed_with("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                                  "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' "
                                  "version='1.0'>" +
                                  error_text("not-well-formed")));
}

TEST_CASE("xmpp negotiation answers a stream close before TLS") {
    check_every_split(make_config(), cat({kClientHeader, "</stream:stream>"}),
                      closed_with(cat({kWardHeader, kFeaturesRequired, "</stream:stream>"})));
}

TEST_CASE("xmpp negotiation with secure mode off lets the backend answer and relays plaintext") {
    const NegotiationConfig config = make_config(StreamKind::c2s, false);
    Outcome relayed;
    relayed.sent = cat({kBackendOpening});
    relayed.relay_plaintext = true;
    check_every_split(config, cat({kClientHeader, "<message/>"}), relayed);
    check_every_split(config, cat({kClientHeader, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>"}),
                      relayed);
    Outcome tls;
    tls.sent = cat({kBackendOpening, kProceed});
    tls.proceed = true;
    check_every_split(config, cat({kClientHeader, kStarttls}), tls);
}

TEST_CASE("xmpp negotiation after TLS checks the header against the pre-TLS to the SNI and the certificate") {
    NegotiationConfig config = make_config();
    config.after_tls = true;
    config.expected_to = "example.org";
    config.server_name = "example.org";
    {
        // A header that passes: ward says nothing, the backend answers.
        Negotiation n(config);
        const auto a = n.feed(cat({kClientHeader, "<auth/>"}));
        CHECK(a.header_done);
        CHECK(a.send.empty());
        CHECK(n.client_header()->raw == kClientHeader);
    }
    const std::string other =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='chat.example.net' "
        "version='1.0'>";
    const std::string other_header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "id='s1' from='Chat.Example.NET' version='1.0'>";
    check_every_split(config, other, closed_with(other_header + error_text("host-unknown")));
    config.expected_to.clear();  // Direct TLS: only the SNI
    check_every_split(config, other, closed_with(other_header + error_text("host-unknown")));
    config.server_name.clear();  // no SNI: any served domain
    {
        Negotiation n(config);
        CHECK(n.feed(other).header_done);
    }
    // s2s: the certificate must name 'from'.
    NegotiationConfig s2s = make_config(StreamKind::s2s);
    s2s.after_tls = true;
    s2s.check_from = [](std::string_view from) { return from == "a.example" ? std::string() : std::string("no"); };
    const std::string s2s_header =
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='evil.example' "
        "to='example.org' version='1.0'>";
    check_every_split(s2s, s2s_header,
                      closed_with("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                                  "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' "
                                  "to='evil.example' version='1.0'>" +
                                  error_text("not-authorized")));
}

TEST_CASE("xmpp negotiation hands its tokenizer on only after an accepted header with nothing after it") {
    NegotiationConfig config = make_config();
    config.after_tls = true;
    config.server_name = "example.org";
    {
        // The header alone, in pieces: the tokenizer that parsed it goes on, and only once.
        Negotiation n(config);
        const std::string header(kClientHeader);
        CHECK_FALSE(n.take_tokenizer());  // nothing yet
        CHECK(n.feed(header.substr(0, 20)).send.empty());
        CHECK_FALSE(n.take_tokenizer());  // half a header
        CHECK(n.feed(header.substr(20)).header_done);
        auto t = n.take_tokenizer();
        REQUIRE(t);
        CHECK(t->bytes_fed() == header.size());
        CHECK_FALSE(n.take_tokenizer());
        // The negotiation is over: a byte now is refused as before, without the tokenizer.
        CHECK(n.feed("<x/>").close);
        CHECK(n.fail(StreamCondition::remote_connection_failed, "down").send.find("remote-connection-failed") !=
              std::string::npos);
        // It parses on in the header's namespaces.
        auto events = t->feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        REQUIRE(events.size() == 1);
        const auto* element = std::get_if<StreamElement>(&events[0]);
        REQUIRE(element);
        CHECK(element->local_name == "starttls");
    }
    const std::string_view bare = kClientHeader.substr(kClientHeader.find("<stream:stream"));
    for (const std::string prefix : {"", "<?xml version='1.0'?>", "\n ", "<?xml version='1.0'?>\n"}) {
        // Whatever came before the header, fed in any two pieces: all of it was the header's.
        const std::string all = prefix + std::string(bare);
        for (std::size_t split = 0; split <= all.size(); ++split) {
            Negotiation n(config);
            NegotiationActions a;
            if (split > 0) a = n.feed(std::string_view(all).substr(0, split));
            if (split < all.size()) a = n.feed(std::string_view(all).substr(split));
            INFO("prefix [", prefix, "] split ", split, ": ", a.reason);
            REQUIRE(a.header_done);
            auto t = n.take_tokenizer();
            REQUIRE(t);
            CHECK(t->bytes_fed() == all.size());
            CHECK(t->in_stream());
        }
    }
    {
        // A newline after the header in the same read: the guard's, so nothing is handed on.
        Negotiation n(config);
        CHECK(n.feed(cat({kClientHeader, "\n"})).header_done);
        CHECK_FALSE(n.take_tokenizer());
    }
    {
        // A header that closes itself ends the parse: nothing to hand on.
        Negotiation n(config);
        std::string closed(kClientHeader);
        closed.insert(closed.size() - 1, "/");
        n.feed(closed);
        CHECK_FALSE(n.take_tokenizer());
    }
    {
        // Bytes after the header: they are the guard's, which parses the header itself.
        Negotiation n(config);
        CHECK(n.feed(cat({kClientHeader, "<auth/>"})).header_done);
        CHECK_FALSE(n.take_tokenizer());
    }
    {
        // A refused header hands nothing on.
        Negotiation n(config);
        const std::string other =
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
            "to='chat.example.net' version='1.0'>";
        CHECK(n.feed(other).close);
        CHECK_FALSE(n.take_tokenizer());
    }
    {
        // Before TLS there is no relay to hand it to.
        Negotiation n(make_config(StreamKind::c2s, false));
        CHECK(n.feed(kClientHeader).need_backend);
        CHECK_FALSE(n.take_tokenizer());
    }
}

TEST_CASE("xmpp negotiation with secure mode off sends its own header when the backend never answered") {
    Negotiation n(make_config(StreamKind::c2s, false));
    const auto first = n.feed(kClientHeader);
    CHECK(first.need_backend);
    CHECK(first.send.empty());
    CHECK(n.fail(StreamCondition::remote_connection_failed, "down").send ==
          cat({kWardHeader, error_text("remote-connection-failed")}));
}

TEST_CASE("xmpp negotiation reports failures the engine found with the header first") {
    Negotiation fresh(make_config());
    CHECK(fresh.fail(StreamCondition::connection_timeout, "slow").send ==
          cat({kWardHeader, error_text("connection-timeout")}));
    Negotiation started(make_config());
    CHECK(started.feed(kClientHeader).send == cat({kWardHeader, kFeaturesRequired}));
    const auto a = started.fail(StreamCondition::remote_connection_failed, "backend down");
    CHECK(a.send == error_text("remote-connection-failed"));
    CHECK(a.close);
}
