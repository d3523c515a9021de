// SPDX-License-Identifier: Apache-2.0
// One admin connection, to its end: the TLS handshake with ALPN http/1.1, then requests read by
// Beast's parser (http_io), each handled by AdminService::handle and answered, under a watchdog;
// the limits on connections per source and in all; a lingering close.
#include <boost/json.hpp>

#include "config/values.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/revocation.hpp"
#include "proxy/fronts/admin/admin_service.hpp"
#include "proxy/fronts/admin/http_io.hpp"
#include "tls/alpn.hpp"
#include "tls/peer_verifier.hpp"

namespace ward::proxy::admin {

namespace {

constexpr int kMaxRequestsPerConnection = 100;

// What a connection needs beyond its coroutine frame: the watchdog's handler may run after the
// frame is gone, so it holds only a weak reference to this.
struct Conn {
    Conn(tcp::socket s, asio::io_context& io) : connection(std::move(s)), watchdog(io) {}
    Connection connection;
    asio::steady_timer watchdog;
    bool expired = false;
};

void arm(const std::shared_ptr<Conn>& c, std::chrono::milliseconds d) {
    c->expired = false;
    c->watchdog.expires_after(d);
    c->watchdog.async_wait([weak = std::weak_ptr<Conn>(c)](error_code ec) {
        if (ec) return;
        if (auto s = weak.lock()) {
            s->expired = true;
            error_code ignored;
            s->connection.socket().cancel(ignored);
        }
    });
}

std::string header(const http::request<http::string_body>& req, http::field f) {
    auto it = req.find(f);
    return it == req.end() ? std::string() : std::string(it->value());
}

std::string header(const http::request<http::string_body>& req, std::string_view name) {
    auto it = req.find(name);
    return it == req.end() ? std::string() : std::string(it->value());
}

// The value of cookie `name` in a Cookie header, and how many times it came.
std::string cookie_value(const std::string& cookies, std::string_view name, int& count) {
    std::string value;
    std::size_t pos = 0;
    while (pos < cookies.size()) {
        auto end = cookies.find(';', pos);
        if (end == std::string::npos) end = cookies.size();
        auto item = std::string_view(cookies).substr(pos, end - pos);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=') {
            if (++count == 1) value = std::string(item.substr(name.size() + 1));
        }
        pos = end + 1;
    }
    return value;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos <= q.size() && !q.empty()) {
        auto end = q.find('&', pos);
        if (end == std::string_view::npos) end = q.size();
        auto item = q.substr(pos, end - pos);
        const auto eq = item.find('=');
        auto key = decode_segment(item.substr(0, eq));
        auto value = eq == std::string_view::npos ? std::optional<std::string>("") : decode_segment(item.substr(eq + 1));
        if (key && value) out[*key] = *value;
        if (end == q.size()) break;
        pos = end + 1;
    }
    return out;
}

// Limits count an IPv4 address, or an IPv6 /64 (what one host or site is usually given).
std::string source_key_of(const tcp::endpoint& peer) {
    auto a = peer.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    if (a.is_v4()) return a.to_string();
    auto bytes = a.to_v6().to_bytes();
    for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
    return asio::ip::address_v6(bytes).to_string() + "/64";
}

// Counts one connection of a source while it lives.
class ConnectionSlot {
public:
    ConnectionSlot(std::size_t& total, std::map<std::string, std::size_t>& by_source, std::string key)
        : total_(total), by_source_(by_source), key_(std::move(key)) {
        ++total_;
        ++by_source_[key_];
    }
    ~ConnectionSlot() {
        --total_;
        if (--by_source_[key_] == 0) by_source_.erase(key_);
    }
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;

private:
    std::size_t& total_;
    std::map<std::string, std::size_t>& by_source_;
    std::string key_;
};

}  // namespace

awaitable<void> AdminService::serve(tcp::socket socket, tcp::endpoint peer) {
    const auto snap = snapshot();
    const auto& admin = snap->config.admin;
    const auto* context = snap->tls.find(admin.tls_context);
    const auto id = ++next_connection_;
    const auto source = endpoint_text(peer);
    const auto source_key = source_key_of(peer);
    if (!context) co_return;
    // Connections are few on an admin port: a bound on all of them, and on each source, keeps
    // idle or slow clients from holding descriptors (each waits at most request_timeout).
    {
        auto it = connections_by_source_.find(source_key);
        const auto from_source = it == connections_by_source_.end() ? 0 : it->second;
        bool room = from_source < kMaxConnectionsPerSource;
        if (room && connections_ >= kMaxConnections) {
            // The oldest connection that has not authenticated makes room.
            room = false;
            for (auto& [other, live] : live_) {
                if (live.authenticated || live.evicted || live.connection.expired()) continue;
                live.evict();
                live.evicted = true;
                room = true;
                break;
            }
        }
        if (!room) {
            std::uint64_t suppressed = 0;
            if (refusal_log_.allow(suppressed))
                proxy_log().info("admin [a{}] {} refused: {} admin connections open ({} from {}){}", id, source,
                                 connections_, from_source, source_key,
                                 suppressed ? " (" + std::to_string(suppressed) + " similar lines suppressed)" : "");
            error_code ignored;
            socket.close(ignored);
            co_return;
        }
    }
    ConnectionSlot slot(connections_, connections_by_source_, source_key);
    auto c = std::make_shared<Conn>(std::move(socket), io_);
    live_[id] = Live{c, [weak = std::weak_ptr<Conn>(c)] {
                         if (auto s = weak.lock()) {
                             s->expired = true;
                             error_code ignored;
                             s->connection.socket().cancel(ignored);
                         }
                     }};
    struct Forget {
        std::map<std::uint64_t, Live>& live;
        std::uint64_t id;
        ~Forget() { live.erase(id); }
    } forget{live_, id};
    c->connection.attach_tls(context->new_server());
    tls::expect_alpn(c->connection.ssl(), "http/1.1");
    arm(c, admin.request_timeout);
    const auto hs = co_await c->connection.handshake();
    if (hs || c->expired) {
        proxy_log().info("admin [a{}] {} refused in handshake: {}", id, source,
                         c->expired ? std::string("timeout") : c->connection.tls_error());
        c->connection.close();
        co_return;
    }
    // Peers' revocation, as on every listener: before a byte of a request is read.
    const auto until = std::chrono::steady_clock::now() + admin.request_timeout;
    auto revocation_check = check_revocation(c->connection.ssl(), c->connection.socket().get_executor(), until);
    const RevocationVerdict revocation = co_await std::move(revocation_check);
    if (!revocation.allowed || c->expired) {
        proxy_log().info("admin [a{}] {} refused after the handshake: {}", id, source,
                         c->expired ? std::string("timeout") : revocation.why);
        c->connection.close();
        co_return;
    }
    const auto certificate_cn = tls::verified_peer_subject(c->connection.ssl());
    const HttpLimits limits{16 * 1024, admin.max_body_size};
    std::string pending;
    for (int n = 0; n < kMaxRequestsPerConnection; ++n) {
        arm(c, admin.request_timeout);  // waiting for a request and reading it: one budget
        auto in = co_await read_request(c->connection, pending, limits, c->expired);
        if (in.status == ReadOutcome::Status::closed) break;
        if (in.status == ReadOutcome::Status::refused) {
            const auto bytes = serialize(Reply::error(in.refusal, in.why), false);
            arm(c, std::chrono::seconds(2));
            co_await c->connection.write_all(bytes.data(), bytes.size());
            proxy_log().info("admin [a{}] {} refused: {} {}", id, source, in.refusal, in.why);
            break;
        }
        const auto& req = in.request;
        Request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        const auto q = r.target.find('?');
        r.path = r.target.substr(0, q);
        if (q != std::string::npos) r.query = parse_query(std::string_view(r.target).substr(q + 1));
        auto type = header(req, http::field::content_type);
        type = type.substr(0, type.find(';'));
        while (!type.empty() && type.back() == ' ') type.pop_back();
        r.content_type = config::lower(type);
        r.if_match = header(req, http::field::if_match);
        r.host = header(req, http::field::host);
        r.origin = header(req, http::field::origin);
        const auto authorization = header(req, http::field::authorization);
        if (authorization.size() > 7 && config::lower(authorization.substr(0, 7)) == "bearer ")
            r.bearer = authorization.substr(7);
        // Every Cookie header counts (a client may send several).
        for (const auto& field : req) {
            if (field.name() != http::field::cookie) continue;
            auto v = cookie_value(std::string(field.value()), kSessionCookie, r.cookies);
            if (r.cookie.empty()) r.cookie = std::move(v);
        }
        r.browser_key = header(req, "X-Ward-Session-Key");
        r.body = req.body();
        r.source = source;
        r.source_key = source_key;
        r.certificate_cn = certificate_cn;
        Reply reply = handle(r);
        if (!r.account.empty() && (!r.session_key.empty() || reply.status == 201)) live_[id].authenticated = true;
        const bool keep = req.keep_alive() && n + 1 < kMaxRequestsPerConnection;
        proxy_log().info("admin [a{}] {} {} {} {} {}", id, source, r.account.empty() ? "-" : r.account, r.method, r.path,
                         reply.status);
        const auto bytes = serialize(reply, keep);
        arm(c, admin.request_timeout);
        const auto wec = co_await c->connection.write_all(bytes.data(), bytes.size());
        if (wec || c->expired || !keep) break;
    }
    c->watchdog.cancel();
    arm(c, std::chrono::seconds(1));
    co_await c->connection.shutdown_send();
    // Lingering close (as nginx does): what the client is still sending (the rest of a body
    // refused at its header) is read and dropped for a moment, so that closing does not reset
    // the connection and destroy the answer in the client's receive queue.
    std::string sink(8192, '\0');
    for (std::size_t drained = 0; !c->expired && drained < 1024 * 1024;) {
        auto [ec, n] = co_await c->connection.read_some(sink.data(), sink.size());
        if (ec) break;
        drained += n;
    }
    c->watchdog.cancel();
    c->connection.close();
}

}  // namespace ward::proxy::admin
