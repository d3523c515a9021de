#include "proxy/fronts/admin/admin_service.hpp"

#include <sys/stat.h>

#include <fstream>

#include <boost/json.hpp>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/fronts/admin/admin_plane.hpp"
#include "proxy/fronts/admin/console_assets.hpp"
#include "proxy/fronts/admin/http_io.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/alpn.hpp"
#include "tls/peer_verifier.hpp"

namespace ward::proxy::admin {

namespace fs = std::filesystem;

namespace {

std::function<ops::SystemClock::time_point()>& test_clock() {
    static std::function<ops::SystemClock::time_point()> clock;
    return clock;
}

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

std::vector<std::string_view> split_path(std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t pos = 1;
    while (pos <= p.size()) {
        auto end = p.find('/', pos);
        if (end == std::string_view::npos) end = p.size();
        out.push_back(p.substr(pos, end - pos));
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

// A request target holds printable ASCII only (RFC 3986: anything else is percent-encoded), so
// paths in logs and audit records are text.
bool printable_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
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

// What tells that the users file changed: its inode (an atomic write is a new file), size and
// modification time; "" when it cannot be read.
std::string file_stamp(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return {};
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec);
}

unsigned role_bit(ops::Role r) {
    switch (r) {
        case ops::Role::admin: return kAdmin;
        case ops::Role::operator_: return kOperator;
        case ops::Role::auditor: return kAuditor;
    }
    return 0;
}

}  // namespace

void set_clock_for_tests(std::function<ops::SystemClock::time_point()> clock) { test_clock() = std::move(clock); }

Result<std::unique_ptr<AdminPlane>> make_admin_plane(Control& control, asio::io_context& io) {
    auto snapshot = control.current();
    const auto& a = snapshot->config.admin;
    auto accounts = ops::AccountStore::load(a.users_file.resolved, true);
    if (!accounts) return Error{accounts.error()};
    if (accounts->accounts().empty())
        proxy_log().warn("admin: {} holds no account yet; add one with 'ward admin user add'",
                         a.users_file.resolved.string());
    auto audit = ops::AuditLog::open(a.audit_file.resolved, snapshot->config.node.name);
    if (!audit) return Error{audit.error()};
    std::function<ops::SystemClock::time_point()> clock = test_clock();
    if (!clock) clock = [] { return ops::SystemClock::now(); };
    return std::unique_ptr<AdminPlane>(
        std::make_unique<AdminService>(control, io, std::move(*accounts), std::move(*audit), std::move(clock)));
}

AdminService::AdminService(Control& control, asio::io_context& io, ops::AccountStore accounts, ops::AuditLog audit,
                           std::function<ops::SystemClock::time_point()> clock)
    : control_(control), io_(io), accounts_(std::move(accounts)), audit_(std::move(audit)), now_(std::move(clock)) {
    accounts_stamp_ = file_stamp(snapshot()->config.admin.users_file.resolved);
}

ops::CredentialPolicy AdminService::policy() const { return ops::credential_policy(snapshot()->config); }

void AdminService::refresh_accounts() {
    // `ward admin user ...` may change the file while ward runs: a changed file is read again
    // (a deleted account loses its sessions at its next request).
    const auto& file = snapshot()->config.admin.users_file.resolved;
    const auto stamp = file_stamp(file);
    if (stamp == accounts_stamp_) return;
    auto store = ops::AccountStore::load(file, true);
    if (!store) {
        proxy_log().error("admin: {}; keeping the accounts read before", store.error());
        return;
    }
    accounts_ = std::move(*store);
    accounts_stamp_ = stamp;
}

void AdminService::audit(const Request& r, std::string action, std::string resource, json::value before,
                         json::value after, std::string result) {
    ops::AuditEntry e{r.account, r.source, std::move(action), std::move(resource), std::move(before),
                      std::move(after), std::move(result)};
    if (auto s = audit_.append(e, now_()); !s) proxy_log().error("admin: {}", s.error());
}

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

const char* const AdminService::kSessionCookie = "__Host-ward_session";

const std::vector<AdminService::Route>& AdminService::routes() {
    // The role matrix: README "Admin API" shows the same table.
    static const std::vector<Route> table = {
        {"GET", "/healthz", kPublic, &AdminService::get_health, nullptr},
        {"GET", "/readyz", kPublic, &AdminService::get_ready, nullptr},
        {"GET", "/api/v1/banner", kPublic, &AdminService::get_banner, nullptr},
        {"PUT", "/api/v1/banner", kAdmin, &AdminService::put_banner, "update"},
        {"POST", "/api/v1/session", kPublic, &AdminService::post_session, nullptr},
        {"GET", "/api/v1/session", kAnyAccount, &AdminService::get_session, nullptr},
        {"DELETE", "/api/v1/session", kAnyAccount, &AdminService::delete_session, nullptr},
        {"PUT", "/api/v1/session/password", kAnyAccount, &AdminService::put_password, nullptr},
        {"GET", "/api/v1/security/xmpp", kAdmin | kAuditor, &AdminService::get_xmpp, "read"},
        {"PUT", "/api/v1/security/xmpp", kAdmin, &AdminService::put_xmpp, "update"},
        {"GET", "/api/v1/security/mode", kAdmin | kAuditor, &AdminService::get_mode, "read"},
        {"PUT", "/api/v1/security/mode", kAdmin, &AdminService::put_mode, "update"},
        {"GET", "/api/v1/peer-subjects", kAdmin | kAuditor, &AdminService::get_peer_subjects, "read"},
        {"POST", "/api/v1/peer-subjects", kAdmin, &AdminService::post_peer_subject, "create"},
        {"DELETE", "/api/v1/peer-subjects/{}", kAdmin, &AdminService::delete_peer_subject, "delete"},
        {"GET", "/api/v1/tls-contexts", kAdmin | kAuditor, &AdminService::get_tls_contexts, "read"},
        {"GET", "/api/v1/tls-contexts/{}", kAdmin | kAuditor, &AdminService::get_tls_context, "read"},
        {"PUT", "/api/v1/tls-contexts/{}", kAdmin, &AdminService::put_tls_context, "update"},
        {"GET", "/api/v1/trust-stores", kAdmin | kAuditor, &AdminService::get_trust_stores, "read"},
        {"GET", "/api/v1/trust-stores/{}/certificates", kAdmin | kAuditor, &AdminService::get_certificates, "read"},
        {"POST", "/api/v1/trust-stores/{}/certificates", kAdmin, &AdminService::post_certificate, "create"},
        {"DELETE", "/api/v1/trust-stores/{}/certificates/{}", kAdmin, &AdminService::delete_certificate, "delete"},
        {"GET", "/api/v1/listeners", kAdmin | kOperator, &AdminService::get_listeners, "read"},
        {"POST", "/api/v1/listeners/{}/restart", kAdmin | kOperator, &AdminService::post_restart, "restart"},
        {"POST", "/api/v1/reload", kAdmin | kOperator, &AdminService::post_reload, "reload"},
        {"GET", "/api/v1/audit", kAdmin | kAuditor, &AdminService::get_audit, "read"},
        {"GET", "/api/v1/audit/verify", kAdmin | kAuditor, &AdminService::get_audit_verify, "read"},
    };
    return table;
}

Reply AdminService::handle(Request& r) {
    if (r.path.empty() || r.path[0] != '/') return Reply::error(400, "the request target must be a path");
    if (!printable_ascii(r.target))
        return Reply::error(400, "the request target holds bytes that are not printable ASCII (percent-encode them)");
    // The console: public files (the data behind them needs a session).
    if (r.method == "GET") {
        if (const auto* asset = console_asset(r.path)) {
            Reply reply;
            reply.content_type = std::string(asset->content_type) + "; charset=utf-8";
            reply.body.assign(asset->data, asset->size);
            return reply;
        }
        if (r.path == "/favicon.ico") return Reply::text(204, "");  // browsers ask; there is none
    }
    const auto segments = split_path(r.path);
    const Route* found = nullptr;
    std::string allowed;
    bool bad_segment = false;
    for (const auto& route : routes()) {
        const auto pattern = split_path(route.pattern);
        if (pattern.size() != segments.size()) continue;
        std::vector<std::string> params;
        bool match = true;
        for (std::size_t i = 0; i < pattern.size() && match; ++i) {
            if (pattern[i] == "{}") {
                auto decoded = decode_segment(segments[i]);
                if (!decoded) bad_segment = true;
                if (!decoded) match = false;
                else params.push_back(std::move(*decoded));
            } else {
                match = pattern[i] == segments[i];
            }
        }
        if (!match) continue;
        if (r.method != route.method) {
            if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
            continue;
        }
        found = &route;
        r.params = std::move(params);
        break;
    }
    if (!found) {
        if (!allowed.empty()) {
            auto reply = Reply::error(405, r.method + " is not allowed on " + r.path + " (allowed: " + allowed + ")");
            reply.headers.emplace_back("Allow", allowed);
            return reply;
        }
        if (bad_segment) return Reply::error(400, "a name in the path is not valid (empty, '.', '..', '/', '\\' or a control character)");
        return Reply::error(404, "no such resource: " + r.path);
    }
    if (found->access != kPublic) {
        if (auto refusal = authenticate(r, *found)) return *refusal;
    }
    Reply reply;
    try {
        reply = (this->*(found->handler))(r);
    } catch (const std::exception& e) {
        // A bug: the client gets an answer, the operator the reason, the audit log the attempt.
        proxy_log().error("admin: {} {} failed: {}", r.method, r.path, e.what());
        reply = Reply::error(500, "internal error; ward's log says more");
        if (found->action) audit(r, found->action, r.path, nullptr, nullptr, "500 internal error");
    }
    // Enhanced and common-criteria modes audit every authenticated read, as the guide's
    // enhanced security mode asks; mutations audit themselves, with what changed.
    if (found->action && std::string_view(found->action) == "read" && policy().audit_reads)
        audit(r, "read", r.path, nullptr, nullptr, reply.status < 400 ? "ok" : std::to_string(reply.status));
    return reply;
}

std::optional<Reply> AdminService::authenticate(Request& r, const Route& route) {
    refresh_accounts();
    const bool via_bearer = !r.bearer.empty();
    const auto& token = via_bearer ? r.bearer : r.cookie;
    auto unauthorized = [](std::string why) {
        auto reply = Reply::error(401, std::move(why));
        reply.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ward\"");
        return reply;
    };
    if (!via_bearer && r.cookies > 1)
        return unauthorized("more than one session cookie came (one was planted?): log in again");
    if (token.empty()) return unauthorized("log in first: POST /api/v1/session");
    const auto key = ops::sha256_hex(token);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return unauthorized("the session is not valid (expired or logged out): log in again");
    auto& s = it->second;
    // Cookies are not kept apart by port: another service on this host name may see the cookie.
    // So the cookie alone is not enough: a browser's session also needs the key the console
    // holds, and its token is never a bearer token; a bearer session is never a cookie.
    if (via_bearer && s.browser) return unauthorized("a browser's session cannot be used as a bearer token");
    if (!via_bearer &&
        (!s.browser || !ops::equal_secrets(ops::sha256_hex(r.browser_key), s.browser_key_digest)))
        return unauthorized("the session cookie needs the console's X-Ward-Session-Key: log in again");
    const auto now = now_();
    const auto p = policy();
    const auto* account = accounts_.find(s.account);
    std::string why;
    if (now - s.last_used > p.idle_timeout) why = "the session expired after being idle";
    else if (now - s.created > p.lifetime) why = "the session reached its maximum lifetime";
    else if (!account) why = "the account no longer exists";
    else if (account->role != s.role) why = "the account's role changed";
    else if (s.certificate_cn != r.certificate_cn) why = "the session belongs to another client certificate";
    else if (s.password_digest != ops::sha256_hex(account->password)) why = "the account's password changed";
    if (!why.empty()) {
        sessions_.erase(it);
        return unauthorized(why + ": log in again");
    }
    // Cookies ride along on cross-site requests; a state-changing request with only the
    // cookie must come from this origin (a bearer token is never sent by a browser on its own).
    if (!via_bearer && r.method != "GET" && r.method != "HEAD") {
        const auto expected = "https://" + r.host;
        if (r.origin.empty() || r.origin != expected) {
            r.account = s.account;
            auto reply = Reply::error(403, "cross-site request refused: a cookie-authenticated " + r.method +
                                               " needs an Origin header of https://<Host> (or use the bearer token)");
            audit_refusal(s, r, reply);
            return reply;
        }
    }
    s.last_used = now;
    r.account = s.account;
    r.role = s.role;
    r.session_key = key;
    const std::string_view pattern = route.pattern;
    // Refusals of an authenticated account are audited (who tried what); requests without a
    // session are only logged, or anyone could fill the audit log's disk.
    if (s.must_change_password && pattern.rfind("/api/v1/session", 0) != 0) {
        auto reply = Reply::error(403, "the password has expired: change it first (PUT /api/v1/session/password)",
                                  {{"password_change_required", true}});
        audit_refusal(s, r, reply);
        return reply;
    }
    if (!(route.access & role_bit(s.role))) {
        auto reply = Reply::error(403, "role '" + std::string(ops::to_string(s.role)) + "' may not " + route.method +
                                           " " + r.path);
        audit_refusal(s, r, reply);
        return reply;
    }
    return std::nullopt;
}

void AdminService::audit_refusal(AdminSession& s, const Request& r, const Reply& reply) {
    const auto now = now_();
    if (now - s.refusal_window >= std::chrono::minutes(1)) {
        s.refusal_window = now;
        s.refusals = 0;
    }
    if (++s.refusals > 20) {
        ++s.refusals_unrecorded;
        return;
    }
    std::string result = std::to_string(reply.status) + " " + reply.message;
    if (s.refusals_unrecorded)
        result += " (" + std::to_string(s.refusals_unrecorded) + " earlier refusals of this session not recorded)";
    s.refusals_unrecorded = 0;
    audit(r, "denied", r.path, nullptr, nullptr, result);
}

bool AdminService::count_failure(const Request& r, const std::string& name, bool end_sessions) {
    const auto now = now_();
    const auto p = policy();
    prune_failures();
    auto it = failures_.find(name);
    if (it == failures_.end()) {
        // Full of recent failures (a spray of names): the name is not tracked; the per-source
        // throttle still holds.
        if (failures_.size() >= kMaxTracked) return false;
        it = failures_.emplace(name, Failures{}).first;
    }
    auto& f = it->second;
    ++f.count;
    f.last = now;
    if (f.count < p.lockout_attempts) return false;
    f.locked_until = now + std::chrono::duration_cast<ops::SystemClock::duration>(p.lockout_duration);
    f.count = 0;
    f.refusal_audited = false;
    audit(r, "lockout", "/api/v1/accounts/" + name, nullptr,
          json::object{{"locked_until", ops::format_time(f.locked_until)}}, "locked");
    if (end_sessions) {
        for (auto s = sessions_.begin(); s != sessions_.end();)
            s = s->second.account == name ? sessions_.erase(s) : std::next(s);
    }
    return true;
}

void AdminService::prune_failures() {
    const auto now = now_();
    const auto keep = std::chrono::duration_cast<ops::SystemClock::duration>(policy().lockout_duration);
    if (failures_.size() >= kMaxTracked) {
        for (auto it = failures_.begin(); it != failures_.end();)
            it = (it->second.locked_until <= now && now - it->second.last > keep) ? failures_.erase(it) : std::next(it);
    }
    if (sources_.size() >= kMaxTracked) {
        for (auto it = sources_.begin(); it != sources_.end();)
            it = now - it->second.start >= std::chrono::minutes(1) ? sources_.erase(it) : std::next(it);
    }
}

std::optional<AdminService::ConfigText> AdminService::read_config(Reply& failure) const {
    const auto& file = snapshot()->config.file;
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        failure = Reply::error(500, "cannot read the configuration file " + file.string());
        return std::nullopt;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return ConfigText{text, ops::sha256_hex(text)};
}

Reply AdminService::mutate(Request& r, const std::string& action,
                           const std::function<std::optional<Reply>(config::Config&)>& change,
                           const std::function<json::value(const config::Config&)>& view, bool mode_change,
                           int success_status, bool dry_run) {
    Reply failure;
    auto current = read_config(failure);
    if (!current) return failure;
    const std::string what = dry_run ? std::string("check") : action;
    auto refuse = [&](Reply reply) {
        audit(r, what, r.path, nullptr, nullptr, std::to_string(reply.status) + " " + reply.message);
        return reply;
    };
    if (r.if_match.empty())
        return refuse(Reply::error(428, "a change needs If-Match with the ETag of the settings it was based on",
                                   {{"etag", etag(current->version)}}));
    std::string wanted = r.if_match;
    if (wanted.rfind("W/", 0) == 0) wanted = wanted.substr(2);
    if (wanted != etag(current->version) && wanted != current->version) {
        auto reply = Reply::error(412, "the configuration changed since it was read (by another administrator, "
                                       "ward cert import or an edit); read it again and retry",
                                  {{"etag", etag(current->version)}});
        reply.headers.emplace_back("ETag", etag(current->version));
        return refuse(std::move(reply));
    }
    const auto& file = snapshot()->config.file;
    auto loaded = config::load_string(current->text, file);
    if (!loaded.config)
        return refuse(Reply::error(409, "the configuration file has errors; fix it first: " +
                                            loaded.diagnostics.to_string()));
    config::Config model = std::move(*loaded.config);
    const auto before = view(model);
    if (auto refusal = change(model)) return refuse(std::move(*refusal));
    const auto text = config::to_yaml(model);
    config::Diagnostics diagnostics(file.string());
    const auto checked = build_snapshot_from_text(text, file, diagnostics, *snapshot(), mode_change);
    if (!checked) {
        json::array list;
        for (const auto& d : diagnostics.all()) {
            list.emplace_back(json::object{{"severity", d.severity == config::Severity::error     ? "error"
                                                        : d.severity == config::Severity::warning ? "warning"
                                                                                                  : "note"},
                                           {"path", d.path},
                                           {"message", d.message},
                                           {"text", config::format(d)}});
        }
        return refuse(Reply::error(422, "the change does not pass 'ward check'; nothing was written",
                                   {{"diagnostics", std::move(list)}}));
    }
    if (dry_run) {
        json::array warnings;
        for (const auto& d : diagnostics.all()) warnings.emplace_back(config::format(d));
        audit(r, what, r.path, before, view(model), "ok (nothing written)");
        return Reply::json_body(200, json::object{{"valid", true}, {"warnings", std::move(warnings)}, {"settings", view(model)}});
    }
    if (auto s = config::save_text_atomically(file, text); !s)
        return refuse(Reply::error(500, "cannot write the configuration: " + s.error()));
    const auto after = view(model);
    audit(r, action, r.path, before, after, "ok");
    json::object body{{"settings", after}, {"etag", etag(ops::sha256_hex(text))}};
    if (mode_change) {
        body["note"] = "written; the security mode takes effect at restart (the running mode stays until then)";
    } else {
        const auto outcome = control_.reload();
        body["reload"] = reload_json(outcome);
    }
    auto reply = Reply::json_body(success_status, body);
    reply.headers.emplace_back("ETag", etag(ops::sha256_hex(text)));
    return reply;
}

json::value AdminService::reload_json(const ReloadOutcome& o) const {
    json::array diagnostics;
    for (const auto& d : o.diagnostics) diagnostics.emplace_back(config::format(d));
    return json::object{{"applied", o.applied},
                        {"generation", o.generation},
                        {"message", o.message},
                        {"time", ops::format_time(o.when)},
                        {"diagnostics", std::move(diagnostics)}};
}

}  // namespace ward::proxy::admin
