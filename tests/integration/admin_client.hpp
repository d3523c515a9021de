// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real HTTPS client for the admin API tests: Boost.Beast over Asio's OpenSSL stream (not
// ward's code), verifying ward's certificate against the test CA. Every call is bounded by a
// deadline on its own io_context.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

namespace ward::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace basio = boost::asio;
namespace json = boost::json;

struct HttpReply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    json::object json() const {
        json::error_code ec;
        auto v = json::parse(body, ec);
        INFO(body);
        REQUIRE_FALSE(ec);
        REQUIRE(v.is_object());
        return v.as_object();
    }
    std::string error() const {
        auto o = json();
        const auto* e = o.if_contains("error");
        return e && e->is_string() ? std::string(e->as_string()) : std::string();
    }
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class AdminClient {
public:
    AdminClient(std::uint16_t port, std::filesystem::path ca, std::filesystem::path cert = {},
                std::filesystem::path key = {})
        : port_(port), ca_(std::move(ca)), cert_(std::move(cert)), key_(std::move(key)) {}

    HttpReply send(const std::string& method, const std::string& target, const std::string& body = {},
                   const Headers& headers = {}) {
        bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
        req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port_));
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
        HttpReply out;
        run([&](Stream& s) { return exchange(s, req, out); });
        return out;
    }

    // Bytes as they are, then whatever ward answers until it closes ("" when nothing came).
    std::string raw(const std::string& bytes) {
        std::string answer;
        run([&](Stream& s) { return raw_exchange(s, bytes, answer); });
        return answer;
    }

    // With a bearer token on every later request.
    void set_token(std::string token) { token_ = std::move(token); }
    const std::string& token() const { return token_; }
    HttpReply call(const std::string& method, const std::string& target, const std::string& body = {},
                   Headers headers = {}) {
        if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
        if (!body.empty() && std::none_of(headers.begin(), headers.end(),
                                          [](const auto& h) { return h.first == "Content-Type"; }))
            headers.emplace_back("Content-Type", "application/json");
        return send(method, target, body, headers);
    }

private:
    using Stream = basio::ssl::stream<basio::ip::tcp::socket>;

    static basio::awaitable<void> exchange(Stream& s, bhttp::request<bhttp::string_body>& req, HttpReply& out) {
        co_await s.async_handshake(basio::ssl::stream_base::client, basio::use_awaitable);
        // ward may answer (413) and stop reading before the whole body is sent: read its answer anyway.
        co_await bhttp::async_write(s, req, basio::as_tuple(basio::use_awaitable));
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(16 * 1024 * 1024);
        co_await bhttp::async_read(s, buffer, parser, basio::use_awaitable);
        auto res = parser.release();
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out.headers[name] = std::string(f.value());
        }
        out.body = res.body();
    }

    static basio::awaitable<void> raw_exchange(Stream& s, const std::string& bytes, std::string& answer) {
        co_await s.async_handshake(basio::ssl::stream_base::client, basio::use_awaitable);
        co_await basio::async_write(s, basio::buffer(bytes), basio::use_awaitable);
        std::string chunk(4096, '\0');
        for (;;) {
            auto [ec, n] = co_await s.async_read_some(basio::buffer(chunk), basio::as_tuple(basio::use_awaitable));
            if (ec) break;
            answer.append(chunk.data(), n);
        }
    }

    // Connects, then runs the exchange `make` returns; everything within 15 s.
    template <class Make>
    void run(Make&& make) {
        basio::io_context io;
        basio::ssl::context ctx(basio::ssl::context::tls_client);
        ctx.load_verify_file(ca_.string());
        ctx.set_verify_mode(basio::ssl::verify_peer);
        if (!cert_.empty()) {
            ctx.use_certificate_chain_file(cert_.string());
            ctx.use_private_key_file(key_.string(), basio::ssl::context::pem);
        }
        Stream stream(io, ctx);
        stream.set_verify_callback(basio::ssl::host_name_verification("server.test"));
        SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>("server.test"));
        stream.next_layer().connect({basio::ip::make_address("127.0.0.1"), port_});
        bool done = false;
        std::exception_ptr error;
        basio::co_spawn(io, make(stream), [&](std::exception_ptr e) {
            done = true;
            error = e;
        });
        io.run_for(std::chrono::seconds(15));
        REQUIRE_MESSAGE(done, "the admin API did not answer within 15 s");
        if (error) std::rethrow_exception(error);
    }

    std::uint16_t port_;
    std::filesystem::path ca_;
    std::filesystem::path cert_;
    std::filesystem::path key_;
    std::string token_;
};

}  // namespace ward::test
