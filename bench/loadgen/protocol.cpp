// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/protocol.hpp"

#include <array>
#include <string_view>

namespace ward::loadgen {

namespace {

constexpr std::size_t kMaxAnswer = 64 * 1024;

// Reads until `needle` is in `got` (at most kMaxAnswer bytes).
awaitable<Outcome> read_until(Stream& s, std::string& got, std::string_view needle, std::string& failure) {
    std::array<char, 4096> buffer;
    while (got.find(needle) == std::string::npos) {
        if (got.size() > kMaxAnswer) {
            failure = "protocol: no '" + std::string(needle) + "' in the first 64 KiB";
            co_return Outcome::failed;
        }
        std::size_t n = 0;
        const Outcome o = co_await s.read_some(buffer.data(), buffer.size(), n);
        if (o != Outcome::ok) {
            failure = o == Outcome::closed ? "protocol: closed before '" + std::string(needle) + "'" : s.failure();
            co_return o == Outcome::closed ? Outcome::failed : o;
        }
        got.append(buffer.data(), n);
    }
    co_return Outcome::ok;
}

std::string header(const std::string& domain) {
    return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
           "to='" + domain + "' version='1.0'>";
}

}  // namespace

awaitable<Outcome> xmpp_before_tls(Stream& s, const std::string& domain, std::string& failure) {
    const std::string h = header(domain);
    if (co_await s.write_all(h.data(), h.size()) != Outcome::ok) {
        failure = s.failure();
        co_return Outcome::failed;
    }
    std::string got;
    if (const Outcome o = co_await read_until(s, got, "</stream:features>", failure); o != Outcome::ok) co_return o;
    if (got.find("urn:ietf:params:xml:ns:xmpp-tls") == std::string::npos) {
        failure = "xmpp: no <starttls/> in the features";
        co_return Outcome::failed;
    }
    static constexpr std::string_view starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    if (co_await s.write_all(starttls.data(), starttls.size()) != Outcome::ok) {
        failure = s.failure();
        co_return Outcome::failed;
    }
    std::string proceed;
    if (const Outcome o = co_await read_until(s, proceed, "/>", failure); o != Outcome::ok) co_return o;
    if (proceed != "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") {
        failure = "xmpp: expected exactly <proceed/>";
        co_return Outcome::failed;
    }
    co_return Outcome::ok;
}

awaitable<Outcome> xmpp_after_tls(Stream& s, const std::string& domain, std::string& failure) {
    const std::string h = header(domain);
    if (co_await s.write_all(h.data(), h.size()) != Outcome::ok) {
        failure = s.failure();
        co_return Outcome::failed;
    }
    std::string got;
    if (const Outcome o = co_await read_until(s, got, "</stream:features>", failure); o != Outcome::ok) co_return o;
    if (got.find("<stream:stream") == std::string::npos || got.find("<stream:error") != std::string::npos) {
        failure = "xmpp: no stream from the backend";
        co_return Outcome::failed;
    }
    if (got.find("xmpp-tls") != std::string::npos || got.find("features/compress") != std::string::npos) {
        failure = "xmpp: STARTTLS or compression offered after TLS";
        co_return Outcome::failed;
    }
    co_return Outcome::ok;
}

awaitable<Outcome> sip_options(Stream& s, unsigned sequence, std::string& failure) {
    const std::string n = std::to_string(sequence);
    const std::string request = "OPTIONS sip:bench@example.org SIP/2.0\r\n"
                                "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-lg" + n + "\r\n"
                                "Max-Forwards: 70\r\n"
                                "From: <sip:loadgen@example.org>;tag=lg" + n + "\r\n"
                                "To: <sip:bench@example.org>\r\n"
                                "Call-ID: lg-" + n + "@127.0.0.1\r\n"
                                "CSeq: 1 OPTIONS\r\n"
                                "Content-Length: 0\r\n\r\n";
    if (co_await s.write_all(request.data(), request.size()) != Outcome::ok) {
        failure = s.failure();
        co_return Outcome::failed;
    }
    std::string got;
    if (const Outcome o = co_await read_until(s, got, "\r\n\r\n", failure); o != Outcome::ok) co_return o;
    if (!got.starts_with("SIP/2.0 200 ") || got.find("Call-ID: lg-" + n + "@127.0.0.1\r\n") == std::string::npos) {
        failure = "sip: no 200 response to this OPTIONS";
        co_return Outcome::failed;
    }
    co_return Outcome::ok;
}

}  // namespace ward::loadgen
