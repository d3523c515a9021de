// SPDX-License-Identifier: Apache-2.0
// XMPP stream tokenizer: header, children, close, restricted XML, caps, the starttls boundary.
// Every input is fed whole, split in two at every index, and byte by byte; all must produce the
// same events.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xmpp/expat_salt.hpp"
#include "xmpp/stream_tokenizer.hpp"

using namespace ward::xmpp;

namespace {

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c >= 0x20 && c < 0x7f) {
            out += c;
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            const auto b = static_cast<unsigned char>(c);
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        }
    }
    return out;
}

// One line per event, everything in it; the error detail is left out because expat may name
// the same malformation differently depending on where a token was cut.
std::string render(const TokenizerEvent& event) {
    if (const auto* h = std::get_if<StreamHeader>(&event)) {
        std::string line = "header " + h->qname + " {" + h->ns + "}" + h->local_name;
        for (const auto& [k, v] : h->attributes) line += " " + k + "=" + v;
        return line + " raw=" + printable(h->raw) + "\n";
    }
    if (const auto* e = std::get_if<StreamElement>(&event)) {
        return "element {" + e->ns + "}" + e->local_name + " end=" + std::to_string(e->end_offset) +
               " raw=" + printable(e->raw) + "\n";
    }
    if (const auto* c = std::get_if<StreamClosed>(&event)) return "closed end=" + std::to_string(c->end_offset) + "\n";
    if (const auto* err = std::get_if<TokenizerError>(&event)) {
        return "error " + std::string(condition_name(err->condition)) + "\n";
    }
    return "trailing at " + std::to_string(std::get<TrailingAfterStarttls>(event).offset) + "\n";
}

std::string run_chunks(const std::vector<std::string_view>& chunks, TokenizerLimits limits) {
    StreamTokenizer tokenizer(limits);
    std::string out;
    for (const auto chunk : chunks) {
        for (const auto& event : tokenizer.feed(chunk)) out += render(event);
    }
    return out;
}

// Whole, every two-chunk split, byte by byte: each must give `expected`.
void check_every_split(std::string_view input, std::string_view expected, TokenizerLimits limits = {}) {
    CHECK(run_chunks({input}, limits) == expected);
    for (std::size_t i = 0; i <= input.size(); ++i) {
        INFO("split at " << i);
        CHECK(run_chunks({input.substr(0, i), input.substr(i)}, limits) == expected);
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    INFO("byte by byte");
    CHECK(run_chunks(bytes, limits) == expected);
}

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.org' version='1.0' xml:lang='en'>";
constexpr std::string_view kHeaderEvent =
    "header stream:stream {http://etherx.jabber.org/streams}stream xmlns=jabber:client "
    "xmlns:stream=http://etherx.jabber.org/streams to=example.org version=1.0 xml:lang=en raw=";

std::string header_line() { return std::string(kHeaderEvent) + std::string(kHeader) + "\n"; }

std::string with_header(std::string_view rest) { return std::string(kHeader) + std::string(rest); }

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("xmpp tokenizer reports the header and starttls with its end offset") {
    const std::string input = with_header("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    check_every_split(input, header_line() + "element {urn:ietf:params:xml:ns:xmpp-tls}starttls end=" +
                                 std::to_string(input.size()) +
                                 " raw=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n");
}

TEST_CASE("xmpp tokenizer reports bytes after starttls as trailing and never parses them") {
    const std::string starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>";
    const std::string input = with_header(starttls + "<message/>");
    const std::size_t end = kHeader.size() + starttls.size();
    check_every_split(input, header_line() + "element {urn:ietf:params:xml:ns:xmpp-tls}starttls end=" +
                                 std::to_string(end) + " raw=" + starttls + "\ntrailing at " +
                                 std::to_string(end) + "\n");
    // Even garbage after it is only "trailing", never an XML error.
    const std::string garbage = with_header(starttls + "\x16\x03\x01");
    check_every_split(garbage, header_line() + "element {urn:ietf:params:xml:ns:xmpp-tls}starttls end=" +
                                   std::to_string(end) + " raw=" + starttls + "\ntrailing at " +
                                   std::to_string(end) + "\n");
}

TEST_CASE("xmpp tokenizer drops whitespace after starttls and still reports anything else") {
    const std::string starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    const std::size_t end = kHeader.size() + starttls.size();
    const std::string element_line = header_line() + "element {urn:ietf:params:xml:ns:xmpp-tls}starttls end=" +
                                     std::to_string(end) + " raw=" + starttls + "\n";
    // go-xmpp writes a newline after <starttls/>.
    check_every_split(with_header(starttls + "\r\n \t"), element_line);
    check_every_split(with_header(starttls + "\n<message/>"), element_line + "trailing at " + std::to_string(end) + "\n");
}

TEST_CASE("xmpp tokenizer reports children raw and keepalive whitespace and stream close") {
    const std::string message = "<message to='a@example.org'><body>hi &amp; <b>bye</b></body></message>";
    const std::string input =
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
        "xmlns:db='jabber:server:dialback'>\n \r\n" +
        message + "  \n<db:result from='a' to='b'>key</db:result>\t</stream:stream>";
    const std::size_t header_end = input.find('>') + 1;
    const std::size_t message_end = input.find("</message>") + 10;
    const std::size_t result_end = input.find("</db:result>") + 12;
    check_every_split(input,
                      "header stream:stream {http://etherx.jabber.org/streams}stream "
                      "xmlns:stream=http://etherx.jabber.org/streams xmlns=jabber:server "
                      "xmlns:db=jabber:server:dialback raw=" +
                          input.substr(0, header_end) + "\nelement {jabber:server}message end=" +
                          std::to_string(message_end) + " raw=" + message +
                          "\nelement {jabber:server:dialback}result end=" + std::to_string(result_end) +
                          " raw=<db:result from='a' to='b'>key</db:result>\nclosed end=" +
                          std::to_string(input.size()) + "\n");
}

TEST_CASE("xmpp tokenizer refuses DOCTYPE and billion laughs without expanding") {
    check_every_split("<?xml version='1.0'?><!DOCTYPE stream:stream><stream:stream>", "error restricted-xml\n");
    const std::string laughs =
        "<?xml version='1.0'?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n]>\n"
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>&lol9;";
    check_every_split(laughs, "error restricted-xml\n");
    const std::string xxe =
        "<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><stream:stream "
        "xmlns:stream='http://etherx.jabber.org/streams'>&xxe;";
    check_every_split(xxe, "error restricted-xml\n");
}

TEST_CASE("xmpp tokenizer refuses comments and processing instructions") {
    check_every_split("<!-- hello --><stream:stream>", "error restricted-xml\n");
    check_every_split("<?php echo 1; ?><stream:stream>", "error restricted-xml\n");
    check_every_split(with_header("<message><!-- c --></message>"), header_line() + "error restricted-xml\n");
    check_every_split(with_header("<message><?pi x?></message>"), header_line() + "error restricted-xml\n");
    check_every_split(with_header("<!-- between -->"), header_line() + "error restricted-xml\n");
}

TEST_CASE("xmpp tokenizer reports garbage as not well formed") {
    check_every_split("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", "error not-well-formed\n");
    const std::string client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    check_every_split(client_hello, "error not-well-formed\n");
    check_every_split("SSH-2.0-OpenSSH_9.2\r\n", "error not-well-formed\n");
    check_every_split(with_header("<message>&foo;</message>"), header_line() + "error not-well-formed\n");
    check_every_split(with_header("<message>&#0;</message>"), header_line() + "error not-well-formed\n");
    check_every_split(with_header("hello"), header_line() + "error not-well-formed\n");
    check_every_split(with_header("<message></iq>"), header_line() + "error not-well-formed\n");
    check_every_split(with_header("<message>\xff\xfe</message>"), header_line() + "error not-well-formed\n");
}

TEST_CASE("xmpp tokenizer reports an undeclared prefix and a foreign encoding") {
    check_every_split("<stream:stream xmlns='jabber:client'>", "error bad-namespace-prefix\n");
    check_every_split(with_header("<x:message/>"), header_line() + "error bad-namespace-prefix\n");
    check_every_split("<?xml version='1.0' encoding='UTF-16'?><stream:stream>", "error unsupported-encoding\n");
    // A lowercase UTF-8 declaration is fine.
    const std::string ok = "<?xml version='1.0' encoding='utf-8'?><s xmlns='jabber:client'>";
    check_every_split(ok, "header s {jabber:client}s xmlns=jabber:client raw=" + ok + "\n");
}

TEST_CASE("xmpp tokenizer caps the header size") {
    TokenizerLimits limits;
    limits.max_header_size = 200;
    const std::string big = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='" +
                            repeat("a", 200) + "'>";
    check_every_split(big, "error policy-violation\n", limits);
    // The same cap, header still open: held bytes count too.
    check_every_split("<stream:stream to='" + repeat("a", 300), "error policy-violation\n", limits);
    // Exactly at the cap is accepted.
    std::string exact = "<s xmlns='jabber:client' to='";
    exact += repeat("b", 200 - exact.size() - 2) + "'>";
    REQUIRE(exact.size() == 200);
    check_every_split(exact, "header s {jabber:client}s xmlns=jabber:client to=" + repeat("b", 200 - 31) + " raw=" +
                                 exact + "\n",
                      limits);
}

TEST_CASE("xmpp tokenizer caps the element size") {
    TokenizerLimits limits;
    limits.max_element_size = 100;
    std::string exact = "<message><body>";
    exact += repeat("x", 100 - exact.size() - 17) + "</body></message>";
    REQUIRE(exact.size() == 100);
    check_every_split(with_header(exact + "<m>" + repeat("y", 200) + "</m>"),
                      header_line() + "element {jabber:client}message end=" + std::to_string(kHeader.size() + 100) +
                          " raw=" + exact + "\nerror policy-violation\n",
                      limits);
    // Whitespace keepalives between children are consumed, not held against the cap.
    check_every_split(with_header(repeat(" ", 300) + "<a/>"),
                      header_line() + "element {jabber:client}a end=" + std::to_string(kHeader.size() + 304) +
                          " raw=<a/>\n",
                      limits);
}

TEST_CASE("xmpp tokenizer caps depth and attribute count") {
    TokenizerLimits limits;
    limits.max_depth = 4;
    limits.max_attributes = 5;  // the stream header of these tests has exactly 5
    check_every_split(with_header("<a><b><c><d/></c></b></a>"),
                      header_line() + "element {jabber:client}a end=" + std::to_string(kHeader.size() + 25) +
                          " raw=<a><b><c><d/></c></b></a>\n",
                      limits);
    check_every_split(with_header("<a><b><c><d><e/></d></c></b></a>"), header_line() + "error policy-violation\n",
                      limits);
    // Namespace declarations count as attributes.
    check_every_split(with_header("<a x='1' y='2' z='3' xmlns:p='u' w='4'/>"),
                      header_line() + "element {jabber:client}a end=" + std::to_string(kHeader.size() + 40) +
                          " raw=<a x='1' y='2' z='3' xmlns:p='u' w='4'/>\n",
                      limits);
    check_every_split(with_header("<a x='1' y='2' z='3' xmlns:p='u' w='4' v='5'/>"),
                      header_line() + "error policy-violation\n", limits);
    limits.max_attributes = 4;
    check_every_split(kHeader, "error policy-violation\n", limits);
}

TEST_CASE("xmpp tokenizer accepts a UTF-8 byte order mark and refuses UTF-16") {
    const std::string bom = "\xef\xbb\xbf<s xmlns='jabber:client'>";
    check_every_split(bom, "header s {jabber:client}s xmlns=jabber:client raw=" + printable(bom) + "\n");
    const std::string utf16("\xff\xfe<\0s\0>\0", 8);
    check_every_split(utf16, "error unsupported-encoding\n");
    const std::string utf16_no_bom("<\0s\0>\0", 6);
    check_every_split(utf16_no_bom, "error unsupported-encoding\n");
    const std::string utf16_be("\0<\0s\0>", 6);
    check_every_split(utf16_be, "error unsupported-encoding\n");
}

TEST_CASE("xmpp tokenizer holds only the element in progress") {
    StreamTokenizer tokenizer;
    std::string input(kHeader);
    for (int i = 0; i < 1000; ++i) input += "<presence/>\n";
    CHECK(tokenizer.feed(input).size() == 1001);
    CHECK(tokenizer.held_bytes() == 0);
    CHECK(tokenizer.feed("<message><body>partial").empty());
    CHECK(tokenizer.held_bytes() == 22);
    CHECK(tokenizer.feed("</body></message>").size() == 1);
    CHECK(tokenizer.held_bytes() == 0);
    CHECK(tokenizer.bytes_fed() == input.size() + 39);
}

TEST_CASE("xmpp tokenizer is spent after an error") {
    StreamTokenizer tokenizer;
    CHECK(tokenizer.feed("<!-- x -->").size() == 1);
    CHECK(tokenizer.finished());
    CHECK(tokenizer.feed("<stream:stream>").empty());
}

TEST_CASE("xmpp tokenizer: a thread's parsers share a hash salt for a bounded number of parsers") {
    // One salt per kParsersPerSalt parsers instead of a getrandom per parser; a disclosed salt
    // keys a bounded number of parsers.
    const auto before = salts_drawn_on_this_thread();
    for (unsigned i = 0; i < 2 * kParsersPerSalt; ++i) {
        StreamTokenizer tokenizer;
        CHECK(tokenizer.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>").size() == 1);
    }
    const auto drawn = salts_drawn_on_this_thread() - before;
    CHECK(drawn >= 2);
    CHECK(drawn <= 3);
}

namespace {

// The events of a stream header followed by `body`, fed in one piece, under `limits`.
std::vector<TokenizerEvent> stream_events(const std::string& body, TokenizerLimits limits = {}) {
    StreamTokenizer tokenizer(limits);
    auto events = tokenizer.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>" + body);
    return events;
}

bool refused_for_policy(const std::vector<TokenizerEvent>& events) {
    return !events.empty() && std::holds_alternative<TokenizerError>(events.back()) &&
           std::get<TokenizerError>(events.back()).condition == StreamCondition::policy_violation;
}

}  // namespace

TEST_CASE("xmpp tokenizer: what expat keeps for a stream's life is bounded - long names, long namespaces, namespaces in force") {
    // Expat reuses the name buffers of closed elements and the buffers of released namespace
    // bindings, each grown to the longest it ever held, for the parser's whole life.
    const TokenizerLimits limits;
    const std::string long_name(limits.max_name_size + 1, 'n');
    CHECK(refused_for_policy(stream_events("<" + long_name + "/>")));
    CHECK(refused_for_policy(stream_events("<e " + long_name + "='1'/>")));
    CHECK(refused_for_policy(stream_events("<e xmlns:" + long_name + "='urn:x'/>")));
    const std::string long_uri = "urn:" + std::string(limits.max_namespace_size, 'u');
    CHECK(refused_for_policy(stream_events("<e xmlns:p='" + long_uri + "'/>")));
    CHECK(refused_for_policy(stream_events("<e xmlns='" + long_uri + "'/>")));
    // Just within: passes.
    const std::string fits_uri = std::string(limits.max_namespace_size - 4, 'u');
    const auto ok = stream_events("<e xmlns:p='urn:" + fits_uri + "' p:a='1'><p:f/></e>");
    REQUIRE(ok.size() == 2);
    CHECK(std::holds_alternative<StreamElement>(ok[1]));

    // Declarations in force add up down the open elements, and are released at each end.
    std::string decls;
    for (int i = 0; i < 10; ++i) decls += " xmlns:p" + std::to_string(i) + "='urn:x'";
    std::string deep, close;
    for (int level = 0; level < 26; ++level) {  // 26 x 10 + the header's 2 > 256
        deep += "<e" + decls + ">";
        close += "</e>";
    }
    CHECK(refused_for_policy(stream_events(deep + close)));
    std::string siblings;
    for (int i = 0; i < 200; ++i) siblings += "<e" + decls + "><e" + decls + "/></e>";
    const auto many = stream_events(siblings);
    CHECK(many.size() == 201);
    CHECK(std::holds_alternative<StreamElement>(many.back()));
}

TEST_CASE("xmpp tokenizer: a stream's parser is replaced when it holds too much - the events do not change") {
    // Expat keeps every distinct name of a stream for the parser's life; past max_parser_memory
    // the parser is replaced between two children of the stream, and nothing is refused.
    const std::string header =
        "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns='jabber:server' xmlns:db='jabber:server:dialback' from='a.example' version='1.0'>";
    std::string body;
    for (int i = 0; i < 400; ++i) {
        const auto n = std::to_string(i);
        body += "<db:result from='a.example' to='b.example'>k" + n + "</db:result> \n";
        body += "<e" + n + " a" + n + "='1' xmlns:p" + n + "='urn:p" + n + "'><p" + n + ":x/>text</e" + n + ">";
    }
    body += "</stream:stream>";
    const std::string input = header + body;
    TokenizerLimits small;
    small.max_parser_memory = 16 * 1024;
    for (const std::size_t piece : {std::size_t(1), std::size_t(7), std::size_t(100), std::size_t(4096), input.size()}) {
        StreamTokenizer plain;
        StreamTokenizer replaced(small);
        std::string expected, got;
        std::size_t most = 0;
        for (std::size_t at = 0; at < input.size(); at += piece) {
            const auto chunk = std::string_view(input).substr(at, piece);
            for (const auto& e : plain.feed(chunk)) expected += render(e);
            for (const auto& e : replaced.feed(chunk)) got += render(e);
            most = std::max(most, replaced.parser_memory());
        }
        INFO("piece ", piece);
        CHECK(got == expected);
        CHECK(expected.ends_with("closed end=" + std::to_string(input.size()) + "\n"));
        CHECK(replaced.parser_replacements() > 5);
        CHECK(plain.parser_replacements() == 0);
        CHECK(most < 3 * small.max_parser_memory);
    }
}

TEST_CASE("xmpp tokenizer: ever new names keep a stream's parser within its memory bound") {
    StreamTokenizer tokenizer;
    REQUIRE(tokenizer.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>").size() == 1);
    std::size_t most = 0;
    for (int i = 0; i < 100000; ++i) {
        const std::string element = "<a" + std::to_string(i) + " b" + std::to_string(i) + "='1'/>";
        const auto events = tokenizer.feed(element);
        REQUIRE(events.size() == 1);
        REQUIRE(std::holds_alternative<StreamElement>(events[0]));
        most = std::max(most, tokenizer.parser_memory());
    }
    CHECK(tokenizer.parser_replacements() > 0);
    CHECK(most < 2 * TokenizerLimits{}.max_parser_memory);
}

TEST_CASE("xmpp tokenizer: a large piece of ever new names replaces the parser a bounded number of times") {
    // After a replacement the rest of the piece goes to the fresh parser; fed whole, a large
    // rest would start it over the bound and replace it again at every element.
    StreamTokenizer tokenizer;
    REQUIRE(tokenizer.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>").size() == 1);
    std::string piece;
    int elements = 0;
    while (piece.size() < 1024 * 1024) piece += "<a" + std::to_string(elements++) + "/>";
    const auto events = tokenizer.feed(piece);
    CHECK(events.size() == static_cast<std::size_t>(elements));
    CHECK(tokenizer.parser_replacements() > 5);
    CHECK(tokenizer.parser_replacements() < 100);
    CHECK(tokenizer.parser_memory() < 2 * TokenizerLimits{}.max_parser_memory);
}
