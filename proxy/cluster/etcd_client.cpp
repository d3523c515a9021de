// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/etcd_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <functional>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "config/values.hpp"
#include "proxy/engine/connection.hpp"
#include "proxy/engine/name_lookup.hpp"
#include "tls/x509.hpp"
#include "xmpp/web/beast_feed.hpp"

namespace ward::cluster {

namespace asio = proxy::asio;
namespace http = boost::beast::http;
using proxy::error_code;
using proxy::use_tuple;

// One HTTP exchange with one endpoint: the connection, its deadline, the answer's parser.
struct EtcdClient::Exchange {
    explicit Exchange(const asio::any_io_executor& ex) : timer(ex) {}
    ~Exchange() {
        timer.cancel();
        if (conn) conn->close();
    }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    // Closes the connection when `d` has passed (whatever waits on it then fails).
    void arm(std::chrono::milliseconds d) {
        timer.expires_after(d);
        std::weak_ptr<proxy::Connection> weak = conn;
        auto flag = fired;
        timer.async_wait([weak, flag](error_code ec) {
            if (ec) return;
            *flag = true;
            if (auto c = weak.lock()) c->close();
        });
    }

    // Feeds what was read to the parser (held back as Beast needs, see beast_feed.hpp).
    std::optional<std::string> feed() {
        while (!parser.is_done() && xmpp::web::ready_for_beast(pending, stalled)) {
            error_code ec;
            const auto used = parser.put(asio::buffer(pending), ec);
            pending.erase(0, used);
            if (ec == http::error::need_more) {
                stalled = true;
                return std::nullopt;
            }
            if (ec) return "not an HTTP answer (" + ec.message() + ")";
            stalled = false;
            if (used == 0) break;
        }
        return std::nullopt;
    }

    // Reads once and feeds; an error when the connection failed or the deadline passed.
    awaitable<std::optional<std::string>> read_more() {
        char buffer[16 * 1024];
        auto read = conn->read_some(buffer, sizeof buffer);
        auto [ec, n] = co_await std::move(read);
        std::optional<std::string> failure;
        if (*fired) {
            failure = "no answer in time";
        } else if (ec == asio::error::eof) {
            if (!parser.got_some()) {
                failure = "the connection closed before an answer";  // (put_eof asserts a byte came)
            } else {
                error_code eof;
                parser.put_eof(eof);
                if (eof) failure = "the connection closed inside the answer";
            }
        } else if (ec) {
            failure = ec.message();
        } else if (pending.size() + n > pending_limit) {
            // Beast holds an unfinished header or chunk line in `pending`: bounded here.
            failure = "an answer's line is too long";
        } else {
            pending.append(buffer, n);
            failure = feed();
        }
        co_return failure;
    }

    std::shared_ptr<proxy::Connection> conn;
    asio::steady_timer timer;
    std::shared_ptr<bool> fired = std::make_shared<bool>(false);
    std::string pending;
    std::size_t pending_limit = 64 * 1024;
    bool stalled = false;
    // A watch's body, by chunks, before it is cut into messages (declared before the parser,
    // which holds a reference to the callback).
    std::string stream;
    std::size_t stream_limit = 0;
    std::function<std::size_t(std::uint64_t, boost::beast::string_view, error_code&)> on_chunk =
        [this](std::uint64_t, boost::beast::string_view body, error_code& ec) -> std::size_t {
        if (stream.size() + body.size() > stream_limit) {
            ec = http::error::body_limit;
            return 0;
        }
        stream.append(body.data(), body.size());
        return body.size();
    };
    http::response_parser<http::string_body> parser;
};

namespace {

std::string request_text(const config::EtcdEndpoint& e, const std::string& path, const std::string& body, bool keep) {
    std::string out = "POST " + path + " HTTP/1.1\r\nHost: ";
    out += e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
    out += ":" + std::to_string(e.port) + "\r\nContent-Type: application/json\r\nAccept: application/json\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += keep ? "\r\n" : "Connection: close\r\n\r\n";
    out += body;
    return out;
}

// Connects, does TLS when the endpoint asks for it, and sends the request, all within the
// deadline the exchange was armed with.
awaitable<Status> open(EtcdClient::Exchange& x, const asio::any_io_executor& ex, const EtcdOptions& options,
                       const config::EtcdEndpoint& e, const std::string& request) {
    if (e.tls && !options.tls) co_return Error{"https needs a TLS context"};
    asio::ip::tcp::resolver::results_type addresses;
    auto lookup = proxy::resolve_host(ex, e.host, e.port, options.timeout, addresses);
    const auto lec = co_await std::move(lookup);
    if (lec) co_return Error{lec == boost::beast::error::timeout ? std::string("name lookup timed out") : lec.message()};
    x.conn = std::make_shared<proxy::Connection>(asio::ip::tcp::socket(ex));
    x.arm(options.timeout);
    auto connect = asio::async_connect(x.conn->socket(), addresses, use_tuple);
    auto [cec, ep] = co_await std::move(connect);
    if (*x.fired) co_return Error{"no connection in time"};
    if (cec) co_return Error{cec.message()};
    x.conn->on_connected();
    if (e.tls) {
        const bool literal = config::is_ip_literal(e.host);
        auto ssl = options.tls->new_client(literal ? std::string() : e.host);
        if (!ssl) co_return Error{"no TLS client state"};
        // etcd's certificate must name the endpoint (RFC 6125), not only chain to etcd's CA:
        // another holder of a certificate from that CA (a node's client certificate) is not etcd.
        const bool named = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), e.host.c_str()) == 1
                                   : SSL_set1_host(ssl.get(), e.host.c_str()) == 1;
        if (!named) {
            ERR_clear_error();
            co_return Error{"cannot check etcd's name '" + e.host + "'"};
        }
        SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        x.conn->attach_tls(std::move(ssl));
        auto handshake = x.conn->handshake();
        const auto hec = co_await std::move(handshake);
        if (*x.fired) co_return Error{"no TLS handshake in time"};
        if (hec) co_return Error{"TLS: " + (x.conn->tls_error().empty() ? hec.message() : x.conn->tls_error())};
        // An address is named by an iPAddress entry and nothing else (wolfSSL matches it as text
        // against every name).
        if (literal && !tls::names_ip_address(SSL_get0_peer_certificate(x.conn->ssl()), e.host))
            co_return Error{"etcd's certificate has no iPAddress " + e.host};
        // A host, by ward's own RFC 6125 check too: the library's can be skipped where a verify
        // callback overrides an error (wolfSSL).
        if (!literal && !tls::names_dns_host(SSL_get0_peer_certificate(x.conn->ssl()), e.host))
            co_return Error{"etcd's certificate does not name " + e.host};
    }
    auto write = x.conn->write_all(request.data(), request.size());
    const auto wec = co_await std::move(write);
    if (*x.fired) co_return Error{"could not send in time"};
    if (wec) co_return Error{wec.message()};
    co_return Status{};
}

// The body of a complete answer: etcd's own reason for an error answer.
Result<std::string> body_of(http::response_parser<http::string_body>& parser) {
    auto& res = parser.get();
    if (res.result() == http::status::ok) return std::move(res.body());
    auto why = etcd_answer::error_of(res.body());
    if (why.empty()) why = "etcd answered HTTP " + std::to_string(res.result_int());
    return Error{why};
}

}  // namespace

EtcdClient::EtcdClient(asio::any_io_executor ex, EtcdOptions options) : ex_(std::move(ex)), options_(std::move(options)) {}
EtcdClient::~EtcdClient() = default;

std::string EtcdClient::endpoint() const {
    if (!answered_ || options_.endpoints.empty()) return {};
    return options_.endpoints[current_].to_string();
}

awaitable<Result<std::string>> EtcdClient::call(std::string path, std::string body) {
    std::string failures;
    const auto n = options_.endpoints.size();
    for (std::size_t attempt = 0; attempt < n; ++attempt) {
        const auto index = (current_ + attempt) % n;
        const auto& e = options_.endpoints[index];
        const auto request = request_text(e, path, body, false);
        Exchange x(ex_);
        x.parser.header_limit(16 * 1024);
        x.parser.body_limit(options_.max_answer);
        x.parser.eager(true);
        auto opening = open(x, ex_, options_, e, request);
        auto opened = co_await std::move(opening);
        std::optional<std::string> failure;
        if (!opened) failure = opened.error();
        while (!failure && !x.parser.is_done()) {
            auto reading = x.read_more();
            failure = co_await std::move(reading);
            if (!failure && !x.parser.is_done() && !x.conn->is_open()) failure = "the connection closed";
        }
        if (failure) {
            failures += (failures.empty() ? "" : "; ") + e.to_string() + ": " + *failure;
            continue;
        }
        current_ = index;
        answered_ = true;
        co_return body_of(x.parser);
    }
    if (n == 0) failures = "no endpoint configured";
    co_return Error{"etcd did not answer: " + failures};
}

// (Each call's strings are made in statements of their own: GCC 12 mis-frees temporaries that
// share a full-expression with co_await.)
template <class T, class Read>
awaitable<T> EtcdClient::answered(std::string path, std::string body, Read read) {
    auto op = call(std::move(path), std::move(body));
    auto got = co_await std::move(op);
    if (!got) co_return Error{got.error()};
    co_return read(*got);
}

awaitable<Result<std::int64_t>> EtcdClient::grant_lease(std::chrono::seconds ttl) {
    auto body = etcd_body::lease_grant(ttl.count());
    return answered<Result<std::int64_t>>("/v3/lease/grant", std::move(body), etcd_answer::lease_grant);
}

awaitable<Result<std::int64_t>> EtcdClient::keep_alive(std::int64_t lease) {
    auto body = etcd_body::lease_keep_alive(lease);
    return answered<Result<std::int64_t>>("/v3/lease/keepalive", std::move(body), etcd_answer::lease_keep_alive);
}

awaitable<Status> EtcdClient::revoke_lease(std::int64_t lease) {
    auto body = etcd_body::lease_revoke(lease);
    return answered<Status>("/v3/lease/revoke", std::move(body), etcd_answer::lease_revoke);
}

awaitable<Result<std::int64_t>> EtcdClient::lease_time_to_live(std::int64_t lease) {
    auto body = etcd_body::lease_time_to_live(lease);
    return answered<Result<std::int64_t>>("/v3/lease/timetolive", std::move(body), etcd_answer::lease_time_to_live);
}

awaitable<Result<std::int64_t>> EtcdClient::put(std::string key, std::string value, std::int64_t lease) {
    auto body = etcd_body::put(key, value, lease);
    return answered<Result<std::int64_t>>("/v3/kv/put", std::move(body), etcd_answer::put);
}

awaitable<Result<EtcdRange>> EtcdClient::range(std::string key, bool prefix) {
    auto body = etcd_body::range(key, prefix);
    return answered<Result<EtcdRange>>("/v3/kv/range", std::move(body), etcd_answer::range);
}

awaitable<Result<std::int64_t>> EtcdClient::remove(std::string key) {
    auto body = etcd_body::delete_range(key);
    return answered<Result<std::int64_t>>("/v3/kv/deleterange", std::move(body), etcd_answer::delete_range);
}

awaitable<Result<EtcdTxnResult>> EtcdClient::put_if_revision(std::string key, std::string value, std::int64_t lease,
                                                             std::int64_t expected) {
    auto body = etcd_body::put_if_revision(key, value, lease, expected);
    return answered<Result<EtcdTxnResult>>("/v3/kv/txn", std::move(body), etcd_answer::txn);
}

awaitable<Result<std::unique_ptr<EtcdWatch>>> EtcdClient::watch(std::string prefix, std::int64_t start_revision) {
    const auto body = etcd_body::watch_create(prefix, start_revision);
    std::string failures;
    const auto n = options_.endpoints.size();
    for (std::size_t attempt = 0; attempt < n; ++attempt) {
        const auto index = (current_ + attempt) % n;
        const auto& e = options_.endpoints[index];
        const auto request = request_text(e, "/v3/watch", body, true);
        std::unique_ptr<EtcdWatch> w(new EtcdWatch);
        w->exchange_ = std::make_unique<Exchange>(ex_);
        w->max_message_ = options_.max_answer;
        w->timeout_ = options_.watch_wait;
        auto& x = *w->exchange_;
        x.stream_limit = options_.max_answer;
        x.parser.header_limit(16 * 1024);
        // Bounded until the header shows a stream (a Content-Length of a terabyte is refused,
        // not reserved); a stream's total is not bounded, each message is (stream_limit).
        x.parser.body_limit(options_.max_answer);
        x.parser.eager(true);
        x.parser.on_chunk_body(x.on_chunk);
        auto opening = open(x, ex_, options_, e, request);
        auto opened = co_await std::move(opening);
        std::optional<std::string> failure;
        if (!opened) failure = opened.error();
        while (!failure && !x.parser.is_header_done()) {
            auto reading = x.read_more();
            failure = co_await std::move(reading);
            if (!failure && !x.parser.is_header_done() && !x.conn->is_open()) failure = "the connection closed";
        }
        if (failure) {
            failures += (failures.empty() ? "" : "; ") + e.to_string() + ": " + *failure;
            continue;
        }
        current_ = index;
        answered_ = true;
        if (x.parser.get().result() != http::status::ok) {
            // An error answer is not streamed: read it whole, when it is small, for etcd's reason.
            std::string why;
            const auto length = x.parser.content_length();
            if (length && *length <= 64 * 1024) {
                while (!failure && !x.parser.is_done()) {
                    auto reading = x.read_more();
                    failure = co_await std::move(reading);
                }
                if (!failure) why = etcd_answer::error_of(x.parser.get().body());
            }
            if (why.empty()) why = "etcd answered HTTP " + std::to_string(x.parser.get().result_int());
            co_return Error{why};
        }
        if (!x.parser.chunked()) co_return Error{"etcd's watch answer is not a stream (no chunked encoding)"};
        x.parser.body_limit(boost::none);
        x.timer.cancel();  // next() sets a deadline for each wait
        co_return w;
    }
    if (n == 0) failures = "no endpoint configured";
    co_return Error{"etcd did not answer: " + failures};
}

EtcdWatch::~EtcdWatch() = default;

void EtcdWatch::close() {
    if (exchange_ && exchange_->conn) exchange_->conn->close();
}

awaitable<Result<EtcdWatchMessage>> EtcdWatch::next() {
    auto& x = *exchange_;
    for (;;) {
        const auto eol = x.stream.find('\n');
        if (eol != std::string::npos) {
            const auto line = x.stream.substr(0, eol);
            x.stream.erase(0, eol + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            auto message = etcd_answer::watch(line);
            if (!message) co_return Error{message.error()};
            // A compacted start revision cancels the watch with compact_revision set: the caller
            // reads the keys again and watches from there.
            if (message->canceled && message->compact_revision == 0)
                co_return Error{"etcd canceled the watch" + (message->cancel_reason.empty() ? std::string() : ": " + message->cancel_reason)};
            co_return message;
        }
        if (x.parser.is_done() || !x.conn->is_open()) co_return Error{"etcd ended the watch"};
        x.arm(timeout_);
        auto reading = x.read_more();
        auto failure = co_await std::move(reading);
        x.timer.cancel();  // (between calls the watch waits for nobody: no deadline runs)
        if (failure) co_return Error{"the watch stopped: " + *failure};
    }
}

}  // namespace ward::cluster
