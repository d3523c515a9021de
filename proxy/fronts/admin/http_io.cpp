// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/admin/http_io.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>

#include "xmpp/web/beast_feed.hpp"

namespace ward::proxy::admin {

namespace {

ReadOutcome refused(int status, std::string why) {
    ReadOutcome out;
    out.status = ReadOutcome::Status::refused;
    out.refusal = status;
    out.why = std::move(why);
    return out;
}

// A parser error as the answer it deserves.
ReadOutcome refusal_for(const boost::system::error_code& ec) {
    if (ec == http::error::header_limit) return refused(431, "the request header is too large");
    if (ec == http::error::body_limit) return refused(413, "the request body is too large");
    return refused(400, "malformed HTTP request: " + ec.message());
}

}  // namespace

awaitable<ReadOutcome> read_request(Connection& connection, std::string& pending, const HttpLimits& limits,
                                    const bool& expired) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(limits.body_limit);
    parser.eager(true);
    std::string chunk(8192, '\0');
    bool started = !pending.empty();
    bool stalled = false;  // the last put wanted more (xmpp/web/beast_feed.hpp)
    for (;;) {
        if (xmpp::web::ready_for_beast(pending, stalled)) {
            boost::system::error_code ec;
            const auto used = parser.put(asio::buffer(pending), ec);
            pending.erase(0, used);
            stalled = ec == http::error::need_more;  // what is left waits for more
            if (ec && ec != http::error::need_more) co_return refusal_for(ec);
            if (parser.is_done()) {
                ReadOutcome out;
                out.status = ReadOutcome::Status::ok;
                out.request = parser.release();
                co_return out;
            }
        }
        if (expired) co_return started ? refused(408, "the request took too long") : ReadOutcome{};
        auto [ec, n] = co_await connection.read_some(chunk.data(), chunk.size());
        if (expired) co_return started ? refused(408, "the request took too long") : ReadOutcome{};
        if (ec) {
            if (!started) co_return ReadOutcome{};
            // The peer ended its side inside a request: a body without a length ends here.
            boost::system::error_code eof_ec;
            parser.put_eof(eof_ec);
            if (!eof_ec && parser.is_done()) {
                ReadOutcome out;
                out.status = ReadOutcome::Status::ok;
                out.request = parser.release();
                co_return out;
            }
            co_return refused(400, "the connection ended inside a request");
        }
        started = true;
        pending.append(chunk.data(), n);
        // Beast bounds the header and the body, but not a chunk's extension or trailer line,
        // which it holds unparsed until the line ends: the bytes waiting here are bounded too.
        if (pending.size() > limits.header_limit + limits.body_limit + chunk.size())
            co_return refused(413, "the request is too large");
    }
}

std::string serialize(const Reply& reply, bool keep_alive) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(reply.status));
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + std::string(reason) + "\r\n";
    if (reply.status != 204) {  // RFC 9110 section 8.6: no content, no length
        out += "Content-Type: " + reply.content_type + "\r\n";
        out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    }
    out += "Cache-Control: no-store\r\n";
    out += "X-Content-Type-Options: nosniff\r\n";
    out += "X-Frame-Options: DENY\r\n";
    out += "Strict-Transport-Security: max-age=31536000\r\n";
    out += "Referrer-Policy: no-referrer\r\n";
    // The console's own files only; no inline script or style, no frames, nothing elsewhere.
    out += "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n";
    for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
    out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    out += "\r\n";
    out += reply.body;
    return out;
}

}  // namespace ward::proxy::admin
