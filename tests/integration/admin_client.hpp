// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real HTTPS client for the admin API tests: Boost.Beast's HTTP/1.1 serializer and parser (not
// ward's code) over the tests' own blocking TLS client, verifying ward's certificate against the
// test CA and the name server.test. The same in both TLS flavours; every call is bounded by a
// deadline. Like a real client library, a connection that fails or ends without an answer
// throws (std::runtime_error).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/net_test_support.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
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
        std::ostringstream wire;
        wire << req;

        const auto until = std::chrono::steady_clock::now() + kDeadline;
        auto client = connect();
        // ward may answer (413) and stop reading before the whole body is sent: read its answer anyway.
        client->send(wire.str());
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(16 * 1024 * 1024);
        parser.eager(true);
        std::string pending;
        beast::error_code ec;
        while (!parser.is_done()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw std::runtime_error("the admin API did not answer within 15 s");
            const auto got = client->read(1, left);
            if (got.empty()) {
                // (Closed before a byte of an answer: no answer at all, not an empty one.)
                if (parser.got_some()) parser.put_eof(ec);
                break;
            }
            pending += got;
            while (!pending.empty() && !parser.is_done()) {
                const auto used = parser.put(boost::asio::buffer(pending), ec);
                if (ec == bhttp::error::need_more) {
                    ec = {};
                    break;
                }
                if (ec) throw std::runtime_error("the admin API's answer does not parse: " + ec.message());
                pending.erase(0, used);
                if (used == 0) break;
            }
        }
        // (A refused client certificate under TLS 1.3: the handshake completed on this side, the
        // refusal arrives as an alert instead of an answer.)
        if (!parser.is_done()) throw std::runtime_error("the admin API's answer ended early: " + client->error());
        auto res = parser.release();
        HttpReply out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out.headers[name] = std::string(f.value());
        }
        out.body = res.body();
        return out;
    }

    // Bytes as they are, then whatever ward answers until it closes ("" when nothing came).
    std::string raw(const std::string& bytes) {
        auto client = connect();
        client->send(bytes);
        std::string answer;
        client->wait_closed(kDeadline, &answer);
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
    static constexpr std::chrono::milliseconds kDeadline{15000};

    // A verified TLS connection to the admin API (server.test, the test CA), with the client
    // certificate when one was given.
    std::unique_ptr<TlsClient> connect() {
        if (!ctx_) {
            ctx_.reset(SSL_CTX_new(TLS_client_method()));
            REQUIRE(ctx_);
            REQUIRE(SSL_CTX_load_verify_locations(ctx_.get(), ca_.c_str(), nullptr) == 1);
            SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
            REQUIRE(X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx_.get()), "server.test", 0) == 1);
            if (!cert_.empty()) {
                REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_.get(), cert_.c_str()) == 1);
                REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_.get(), key_.c_str(), SSL_FILETYPE_PEM) == 1);
            }
        }
        auto client = std::make_unique<TlsClient>(port_, ctx_.get(), "server.test", kDeadline);
        if (!client->ok()) throw std::runtime_error("TLS to the admin API: " + client->error());
        return client;
    }

    std::uint16_t port_;
    std::filesystem::path ca_;
    std::filesystem::path cert_;
    std::filesystem::path key_;
    std::string token_;
    tls::UniqueSslCtx ctx_;
};

}  // namespace ward::test
