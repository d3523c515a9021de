// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/ocsp_fetch.hpp"

#include "proxy/engine/name_lookup.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace ward::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

http::request<http::string_body> make_request(const tls::HttpUrl& url, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, url.path, 11};
    req.set(http::field::host, url.port == 80 ? url.host : url.host + ":" + std::to_string(url.port));
    req.set(http::field::content_type, "application/ocsp-request");
    req.set(http::field::accept, "application/ocsp-response");
    req.set(http::field::connection, "close");
    req.body() = body;
    req.prepare_payload();
    return req;
}

OcspFetch failed(std::string why) {
    OcspFetch out;
    out.error = std::move(why);
    return out;
}

OcspFetch failed(const tls::HttpUrl& url, error_code ec) {
    return failed(url.text() + ": " + (ec == beast::error::timeout ? std::string("no answer in time") : ec.message()));
}

OcspFetch answered(http::response_parser<http::string_body>& parser) {
    auto& res = parser.get();
    if (res.result() != http::status::ok)
        return failed("the responder answered HTTP " + std::to_string(res.result_int()));
    OcspFetch out;
    out.ok = true;
    out.body = std::move(res.body());
    return out;
}

}  // namespace

awaitable<OcspFetch> fetch_ocsp(asio::any_io_executor ex, const tls::HttpUrl& url, const std::string& request,
                                std::chrono::milliseconds timeout) {
    // (Every string and operation is made in a statement of its own: GCC 12 mis-frees
    // temporaries that share a full-expression with co_await.)
    const auto started = std::chrono::steady_clock::now();
    tcp::resolver::results_type endpoints;
    auto lookup = resolve_host(ex, url.host, url.port, timeout, endpoints);
    const error_code rec = co_await std::move(lookup);
    OcspFetch out;
    if (rec) {
        out = failed(url, rec);
        co_return out;
    }
    beast::tcp_stream stream(ex);
    // One deadline for the lookup, connect, send and the whole answer.
    stream.expires_at(started + timeout);
    auto connect = stream.async_connect(endpoints, use_tuple);
    auto [cec, ep] = co_await std::move(connect);
    if (cec) {
        out = failed(url, cec);
        co_return out;
    }
    auto req = make_request(url, request);
    auto write = http::async_write(stream, req, use_tuple);
    auto [wec, wn] = co_await std::move(write);
    if (wec) {
        out = failed(url, wec);
        co_return out;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(kOcspResponseLimit);
    auto read = http::async_read(stream, buffer, parser, use_tuple);
    auto [rdec, rn] = co_await std::move(read);
    if (rdec) {
        out = failed(url, rdec);
        co_return out;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    out = answered(parser);
    co_return out;
}

}  // namespace ward::proxy
