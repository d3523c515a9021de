// SPDX-License-Identifier: Apache-2.0
// The admin plane's sessions: who a request is (authenticate), logins with their throttling and
// lockout, logout and the password change. Everything on the server's control thread.
#include <boost/json.hpp>

#include "proxy/fronts/admin/admin_service.hpp"
#include "proxy/ops/secrets.hpp"

namespace ward::proxy::admin {

namespace {

unsigned role_bit(ops::Role r) {
    switch (r) {
        case ops::Role::admin: return kAdmin;
        case ops::Role::operator_: return kOperator;
        case ops::Role::auditor: return kAuditor;
    }
    return 0;
}

}  // namespace

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

// --- session ----------------------------------------------------------------------------------

Reply AdminService::post_session(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "log in with application/json");
    auto parsed = parse_object(r.body, {"name", "password"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<std::string> name, password;
    if (auto e = get_string(parsed.object, "name", name)) return *e;
    if (auto e = get_string(parsed.object, "password", password)) return *e;
    if (!name || !password) return Reply::error(400, "log in with {\"name\": ..., \"password\": ...}");
    refresh_accounts();
    const auto now = now_();
    const auto p = policy();
    const auto& admin = snapshot()->config.admin;
    r.account = *name;
    if (!ops::is_account_name(*name)) r.account = "(invalid name)";

    // Per source (address, or IPv6 /64): at most login_failures_per_minute failures a minute.
    const auto& ip = r.source_key;
    prune_failures();
    auto& window = sources_[ip];
    if (now - window.start >= std::chrono::minutes(1)) window = {now, 0, false};
    if (window.failures >= admin.login_failures_per_minute) {
        const auto wait = std::chrono::duration_cast<std::chrono::seconds>(window.start + std::chrono::minutes(1) - now);
        // One record per window: refused attempts must not fill the audit log's disk.
        if (!window.refusal_audited)
            audit(r, "login-refused", r.path, nullptr, nullptr, "429 too many failed logins from " + ip);
        window.refusal_audited = true;
        auto reply = Reply::error(429, "too many failed logins from " + ip + "; try again in " +
                                           std::to_string(std::max<long long>(1, wait.count())) + " s");
        reply.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(1, wait.count())));
        return reply;
    }
    // Per account name (known or not, so a lockout says nothing about which names exist).
    if (auto f = failures_.find(r.account); f != failures_.end() && f->second.locked_until > now) {
        if (!f->second.refusal_audited)
            audit(r, "login-refused", r.path, nullptr, nullptr, "403 account locked");
        f->second.refusal_audited = true;
        ++window.failures;
        return Reply::error(403, "the account is locked until " + ops::format_time(f->second.locked_until) + " after " +
                                     std::to_string(p.lockout_attempts) + " failed logins");
    }
    const auto* account = ops::is_account_name(*name) ? accounts_.find(*name) : nullptr;
    if (dummy_hash_.empty()) {
        auto h = ops::hash_password(ops::random_bytes(16), admin.password_iterations);
        if (h) dummy_hash_ = *h;
    }
    // Unknown names are verified against a dummy hash: the same time as a wrong password.
    const bool password_ok = ops::verify_password(*password, account ? account->password : dummy_hash_) && account;
    // With client certificates, the certificate names the account too.
    const bool certificate_ok = r.certificate_cn.empty() || (account && r.certificate_cn == account->name);
    if (!password_ok || !certificate_ok) {
        ++window.failures;
        audit(r, "login-failed", r.path, nullptr, nullptr,
              password_ok ? "401 the client certificate belongs to another account" : "401 wrong name or password");
        count_failure(r, r.account, false);
        return Reply::error(401, password_ok ? "the client certificate does not belong to this account"
                                             : "wrong name or password");
    }
    failures_.erase(r.account);
    // Sessions: expired ones go; an account keeps at most kMaxSessionsPerAccount (the oldest
    // ends); a full table refuses rather than grows.
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        const auto& s = it->second;
        it = (now - s.last_used > p.idle_timeout || now - s.created > p.lifetime) ? sessions_.erase(it) : std::next(it);
    }
    for (;;) {
        auto oldest = sessions_.end();
        std::size_t mine = 0;
        for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
            if (it->second.account != account->name) continue;
            ++mine;
            if (oldest == sessions_.end() || it->second.created < oldest->second.created) oldest = it;
        }
        if (mine < kMaxSessionsPerAccount) break;
        sessions_.erase(oldest);
    }
    if (sessions_.size() >= kMaxSessions) return Reply::error(503, "too many admin sessions; try again later");
    const auto token = ops::base64url(ops::random_bytes(32));
    AdminSession session;
    session.account = account->name;
    session.role = account->role;
    session.created = now;
    session.last_used = now;
    session.must_change_password = ops::password_expired(p, *account, now);
    session.certificate_cn = r.certificate_cn;
    session.password_digest = ops::sha256_hex(account->password);
    // A browser (it sends Origin) gets the token only as an HttpOnly cookie, plus a key the page
    // keeps and sends back in X-Ward-Session-Key; other clients get a bearer token in the body.
    const bool browser = !r.origin.empty();
    const auto browser_key = browser ? ops::base64url(ops::random_bytes(32)) : std::string();
    session.browser = browser;
    session.browser_key_digest = browser ? ops::sha256_hex(browser_key) : std::string();
    sessions_[ops::sha256_hex(token)] = session;
    audit(r, "login", r.path, nullptr, json::object{{"role", std::string(ops::to_string(account->role))}},
          session.must_change_password ? "ok (password expired: change required)" : "ok");
    json::object body{{"account", account->name},
                      {"role", std::string(ops::to_string(account->role))},
                      {"banner", banner_text()},
                      {"idle_timeout_seconds", std::chrono::duration_cast<std::chrono::seconds>(p.idle_timeout).count()},
                      {"expires", ops::format_time(now + std::chrono::duration_cast<ops::SystemClock::duration>(p.lifetime))},
                      {"password_change_required", session.must_change_password}};
    if (browser) body["session_key"] = browser_key;
    else body["token"] = token;
    auto reply = Reply::json_body(201, body);
    if (browser)
        reply.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" + token +
                                                     "; Path=/; Secure; HttpOnly; SameSite=Strict");
    return reply;
}

Reply AdminService::get_session(Request& r) {
    const auto& s = sessions_.at(r.session_key);
    return Reply::json_body(200, json::object{{"account", s.account},
                                              {"role", std::string(ops::to_string(s.role))},
                                              {"banner", banner_text()},
                                              {"password_change_required", s.must_change_password}});
}

Reply AdminService::delete_session(Request& r) {
    sessions_.erase(r.session_key);
    audit(r, "logout", r.path, nullptr, nullptr, "ok");
    auto reply = Reply::json_body(200, json::object{{"logged_out", true}});
    reply.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    return reply;
}

Reply AdminService::put_password(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "send application/json");
    auto parsed = parse_object(r.body, {"current", "new"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<std::string> current, next;
    if (auto e = get_string(parsed.object, "current", current)) return *e;
    if (auto e = get_string(parsed.object, "new", next)) return *e;
    if (!current || !next) return Reply::error(400, "send {\"current\": ..., \"new\": ...}");
    auto* account = accounts_.find(r.account);
    const auto now = now_();
    if (!account || !ops::verify_password(*current, account->password)) {
        audit(r, "password", r.path, nullptr, nullptr, "403 the current password is wrong");
        // Counted as a failed login: a stolen session cannot guess the password at leisure.
        const bool locked = count_failure(r, r.account, true);
        return Reply::error(403, locked ? "the current password is wrong; the account is now locked and its sessions ended"
                                        : "the current password is wrong");
    }
    if (auto why = ops::check_new_password(policy(), account, *next, now)) {
        audit(r, "password", r.path, nullptr, nullptr, "422 " + *why);
        return Reply::error(422, *why, {{"field", "new"}});
    }
    auto store = accounts_;
    auto* copy = store.find(r.account);
    if (auto s = store.set_password(*copy, *next, snapshot()->config.admin.password_iterations, now); !s)
        return Reply::error(500, s.error());
    const auto& file = snapshot()->config.admin.users_file.resolved;
    if (auto s = store.save(file); !s) return Reply::error(500, "cannot write the users file: " + s.error());
    accounts_ = std::move(store);
    refresh_accounts();  // reads it back (and its stamp) as written
    // Every other session of the account ends; this one goes on, no longer restricted.
    for (auto it = sessions_.begin(); it != sessions_.end();)
        it = (it->second.account == r.account && it->first != r.session_key) ? sessions_.erase(it) : std::next(it);
    auto& mine = sessions_.at(r.session_key);
    mine.must_change_password = false;
    mine.password_digest = ops::sha256_hex(accounts_.find(r.account)->password);
    audit(r, "password", r.path, nullptr, json::object{{"changed", ops::format_time(now)}}, "ok");
    return Reply::json_body(200, json::object{{"password_changed", true}});
}

}  // namespace ward::proxy::admin
