// The admin API's resources, one handler each. Reads answer JSON with the configuration's
// version as ETag; every change goes through AdminService::mutate (If-Match, the full check,
// the atomic write, the audit record, the reload) or the same ops/ code as the CLI.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include <boost/json.hpp>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "proxy/fronts/admin/admin_service.hpp"
#include "proxy/ops/cert_import.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/cipher_catalog.hpp"
#include "tls/fips_provider.hpp"
#include "tls/trust_store.hpp"
#include "tls/x509.hpp"

namespace ward::proxy::admin {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxBannerBytes = 64 * 1024;

json::object xmpp_view(const config::Config& c) {
    const auto& x = c.security.xmpp;
    return {{"client_to_node_secure", x.client_to_node_secure},
            {"router_to_router_secure", x.router_to_router_secure},
            {"web_client_secure", x.web_client_secure}};
}

json::array contexts_selecting(const config::Config& c, const std::string& subject) {
    json::array out;
    for (const auto& ctx : c.tls_contexts)
        for (const auto& s : ctx.peer_subjects)
            if (config::lower(s) == config::lower(subject)) out.emplace_back(ctx.name);
    return out;
}

json::array subjects_view(const config::Config& c) {
    json::array out;
    for (const auto& p : c.tls_peer_subjects)
        out.emplace_back(json::object{
            {"subject", p.subject}, {"description", p.description}, {"selected_by", contexts_selecting(c, p.subject)}});
    return out;
}

json::object context_view(const config::Config& c, const config::TlsContext& ctx, bool with_available) {
    json::array selected_subjects, available_subjects, selected_ciphers, available_ciphers;
    for (const auto& s : ctx.peer_subjects) selected_subjects.emplace_back(s);
    const auto& catalog = tls::CipherCatalog::instance();
    auto ciphers = ctx.ciphers.empty() ? tls::CipherCatalog::defaults(c.security.mode) : ctx.ciphers;
    std::vector<std::string> selected_ids;
    for (const auto& name : ciphers) {
        const auto* info = catalog.find(name);
        selected_ciphers.emplace_back(json::object{{"name", info ? info->openssl_name : name},
                                                   {"iana_name", info ? info->iana_name : name},
                                                   {"tls13", info ? info->tls13 : false}});
        if (info) selected_ids.push_back(info->openssl_name);
    }
    json::object out{{"name", ctx.name},
                     {"certificate", ctx.certificate},
                     {"trust_store", ctx.trust_store},
                     {"verify_peer", std::string(config::to_string(ctx.verify_peer))},
                     {"min_version", std::string(config::to_string(ctx.min_version))},
                     {"max_version", std::string(config::to_string(ctx.max_version))},
                     {"ciphers_default", ctx.ciphers.empty()}};
    if (with_available) {
        for (const auto& p : c.tls_peer_subjects) {
            bool chosen = false;
            for (const auto& s : ctx.peer_subjects) chosen = chosen || config::lower(s) == config::lower(p.subject);
            if (!chosen) available_subjects.emplace_back(p.subject);
        }
        for (const auto* info : catalog.available(c.security.mode)) {
            if (std::find(selected_ids.begin(), selected_ids.end(), info->openssl_name) != selected_ids.end()) continue;
            available_ciphers.emplace_back(json::object{
                {"name", info->openssl_name}, {"iana_name", info->iana_name}, {"tls13", info->tls13}});
        }
        out["peer_subjects"] = json::object{{"available", available_subjects}, {"selected", selected_subjects}};
        out["ciphers"] = json::object{{"available", available_ciphers}, {"selected", selected_ciphers}};
    } else {
        out["peer_subjects"] = json::object{{"selected", selected_subjects}};
        out["ciphers"] = json::object{{"selected", selected_ciphers}};
    }
    return out;
}

// The listeners a secure-mode flag governs.
bool governed_by(config::Protocol p, std::string_view flag) {
    using P = config::Protocol;
    if (flag == "client_to_node_secure") return p == P::xmpp_client || p == P::xmpp_client_tls;
    if (flag == "router_to_router_secure")
        return p == P::xmpp_server || p == P::xmpp_server_tls || p == P::xmpp_server_outbound;
    if (flag == "web_client_secure") return p == P::xmpp_web;
    return false;
}

std::string time_text(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Valid UTF-8 (the loader's own test, so a banner written here always loads), and no control
// character but newline and tab (C0, DEL and C1).
std::optional<std::string> banner_problem(std::string_view s) {
    if (const auto bad = config::first_invalid_utf8(s); bad != std::string_view::npos)
        return "invalid UTF-8 at byte " + std::to_string(bad);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(s[i + 1]) <= 0x9F;
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || c1)
            return "a control character at byte " + std::to_string(i) + " (only newline and tab are allowed)";
    }
    return std::nullopt;
}

}  // namespace

std::string AdminService::banner_text() const {
    const auto& file = snapshot()->config.node.banner_file;
    if (file.empty()) return {};
    std::ifstream in(file.resolved, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > kMaxBannerBytes) text.resize(kMaxBannerBytes);
    return text;
}

// --- health ---------------------------------------------------------------------------------

Reply AdminService::get_health(Request&) { return Reply::json_body(200, json::object{{"status", "alive"}}); }

Reply AdminService::get_ready(Request&) {
    const bool ready = control_.ready();
    return Reply::json_body(ready ? 200 : 503, json::object{{"ready", ready},
                                                            {"generation", snapshot()->generation}});
}

// --- banner -----------------------------------------------------------------------------------

Reply AdminService::get_banner(Request&) { return Reply::text(200, banner_text()); }

Reply AdminService::put_banner(Request& r) {
    const auto& file = snapshot()->config.node.banner_file;
    auto refuse = [&](Reply reply, const std::string& why) {
        audit(r, "update", r.path, nullptr, nullptr, std::to_string(reply.status) + " " + why);
        return reply;
    };
    if (r.content_type != "text/plain")
        return refuse(Reply::error(415, "the banner is text/plain (UTF-8)"), "wrong content type");
    if (r.body.size() > kMaxBannerBytes)
        return refuse(Reply::error(413, "the banner is at most 64 KiB"), "too large");
    if (auto why = banner_problem(r.body)) return refuse(Reply::error(400, "the banner has " + *why), *why);
    if (file.empty())
        return refuse(Reply::error(409, "node.banner_file is not set in the configuration, so this node has no banner "
                                        "file to write"),
                      "no banner file");
    const auto old = banner_text();
    if (auto s = config::save_text_atomically(file.resolved, r.body); !s)
        return refuse(Reply::error(500, "cannot write the banner: " + s.error()), s.error());
    auto digest = [](const std::string& t) {
        return json::object{{"bytes", t.size()}, {"sha256", ops::sha256_hex(t)}};
    };
    audit(r, "update", r.path, digest(old), digest(r.body), "ok");
    return Reply::json_body(200, json::object{{"banner", r.body},
                                              {"file", file.resolved.string()},
                                              {"note", "stored on this node only"}});
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

// --- System > Security > Settings ---------------------------------------------------------------

Reply AdminService::get_xmpp(Request& r) {
    Reply failure;
    auto text = read_config(failure);
    if (!text) return failure;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    const auto& c = loaded.config ? *loaded.config : snapshot()->config;
    (void)r;
    auto reply = Reply::json_body(200, xmpp_view(c));
    reply.headers.emplace_back("ETag", etag(text->version));
    return reply;
}

Reply AdminService::put_xmpp(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "send application/json");
    auto parsed = parse_object(r.body, {"client_to_node_secure", "router_to_router_secure", "web_client_secure"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<bool> c2s, s2s, web;
    if (auto e = get_bool(parsed.object, "client_to_node_secure", c2s)) return *e;
    if (auto e = get_bool(parsed.object, "router_to_router_secure", s2s)) return *e;
    if (auto e = get_bool(parsed.object, "web_client_secure", web)) return *e;
    json::array affected;
    auto reply = mutate(
        r, "update",
        [&](config::Config& c) -> std::optional<Reply> {
            auto& x = c.security.xmpp;
            std::vector<std::string_view> changed;
            if (c2s && *c2s != x.client_to_node_secure) changed.push_back("client_to_node_secure");
            if (s2s && *s2s != x.router_to_router_secure) changed.push_back("router_to_router_secure");
            if (web && *web != x.web_client_secure) changed.push_back("web_client_secure");
            if (c2s) x.client_to_node_secure = *c2s;
            if (s2s) x.router_to_router_secure = *s2s;
            if (web) x.web_client_secure = *web;
            for (const auto& l : c.listeners) {
                bool hit = false;
                for (auto f : changed) hit = hit || governed_by(l.protocol, f);
                if (hit) affected.emplace_back(l.name);
            }
            return std::nullopt;
        },
        [](const config::Config& c) -> json::value { return xmpp_view(c); });
    if (reply.status == 200) {
        auto body = json::parse(reply.body).as_object();
        body["affected_listeners"] = affected;
        body["note"] = "ward reloaded: new connections follow the new settings; established streams keep the mode "
                       "they started with (where the guide restarts the Connection Manager)";
        reply.body = json::serialize(body) + "\n";
    }
    return reply;
}

// --- TLS Peer Subjects --------------------------------------------------------------------------

Reply AdminService::get_peer_subjects(Request& r) {
    Reply failure;
    auto text = read_config(failure);
    if (!text) return failure;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    const auto& c = loaded.config ? *loaded.config : snapshot()->config;
    json::array list = subjects_view(c);
    if (auto it = r.query.find("search"); it != r.query.end() && !it->second.empty()) {
        json::array filtered;
        const auto needle = config::lower(it->second);
        for (auto& v : list) {
            const auto& o = v.as_object();
            const auto s = config::lower(std::string(o.at("subject").as_string()));
            const auto d = config::lower(std::string(o.at("description").as_string()));
            if (s.find(needle) != std::string::npos || d.find(needle) != std::string::npos) filtered.push_back(v);
        }
        list = std::move(filtered);
    }
    auto reply = Reply::json_body(200, json::object{{"peer_subjects", list}});
    reply.headers.emplace_back("ETag", etag(text->version));
    return reply;
}

Reply AdminService::post_peer_subject(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "send application/json");
    auto parsed = parse_object(r.body, {"subject", "description"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<std::string> subject, description;
    if (auto e = get_string(parsed.object, "subject", subject)) return *e;
    if (auto e = get_string(parsed.object, "description", description)) return *e;
    if (!subject || subject->empty()) return Reply::error(400, "a peer subject needs a subject (the certificate's CN)", {{"field", "subject"}});
    if (subject->size() > 255) return Reply::error(400, "a subject CN has at most 255 characters", {{"field", "subject"}});
    return mutate(
        r, "create",
        [&](config::Config& c) -> std::optional<Reply> {
            if (c.find_peer_subject(*subject))
                return Reply::error(409, "'" + *subject + "' is already a peer subject", {{"field", "subject"}});
            c.tls_peer_subjects.push_back({*subject, description.value_or("")});
            return std::nullopt;
        },
        [&](const config::Config& c) -> json::value {
            if (const auto* p = c.find_peer_subject(*subject))
                return json::object{{"subject", p->subject}, {"description", p->description}};
            return nullptr;
        },
        false, 201);
}

Reply AdminService::delete_peer_subject(Request& r) {
    const auto subject = r.params.at(0);
    return mutate(
        r, "delete",
        [&](config::Config& c) -> std::optional<Reply> {
            if (!c.find_peer_subject(subject)) return Reply::error(404, "no peer subject '" + subject + "'");
            auto users = contexts_selecting(c, subject);
            if (!users.empty()) {
                std::string names;
                for (const auto& u : users) names += (names.empty() ? "" : ", ") + std::string(u.as_string());
                return Reply::error(409, "'" + subject + "' is selected by TLS context" + (users.size() == 1 ? " " : "s ") +
                                             names + "; remove it there first",
                                    {{"contexts", users}});
            }
            auto& list = c.tls_peer_subjects;
            list.erase(std::remove_if(list.begin(), list.end(),
                                      [&](const config::PeerSubject& p) { return p.subject == subject; }),
                       list.end());
            return std::nullopt;
        },
        [&](const config::Config& c) -> json::value {
            if (const auto* p = c.find_peer_subject(subject))
                return json::object{{"subject", p->subject}, {"description", p->description}};
            return nullptr;
        });
}

// --- TLS Context Configuration ------------------------------------------------------------------

Reply AdminService::get_tls_contexts(Request&) {
    Reply failure;
    auto text = read_config(failure);
    if (!text) return failure;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    const auto& c = loaded.config ? *loaded.config : snapshot()->config;
    json::array list;
    for (const auto& ctx : c.tls_contexts) list.push_back(context_view(c, ctx, false));
    auto reply = Reply::json_body(200, json::object{{"tls_contexts", list}});
    reply.headers.emplace_back("ETag", etag(text->version));
    return reply;
}

Reply AdminService::get_tls_context(Request& r) {
    Reply failure;
    auto text = read_config(failure);
    if (!text) return failure;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    const auto& c = loaded.config ? *loaded.config : snapshot()->config;
    const auto* ctx = c.find_tls_context(r.params.at(0));
    if (!ctx) return Reply::error(404, "no TLS context '" + r.params.at(0) + "'");
    auto reply = Reply::json_body(200, context_view(c, *ctx, true));
    reply.headers.emplace_back("ETag", etag(text->version));
    return reply;
}

Reply AdminService::put_tls_context(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "send application/json");
    auto parsed = parse_object(r.body, {"peer_subjects", "ciphers"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<std::vector<std::string>> subjects, ciphers;
    if (auto e = get_string_list(parsed.object, "peer_subjects", subjects)) return *e;
    if (auto e = get_string_list(parsed.object, "ciphers", ciphers)) return *e;
    const auto name = r.params.at(0);
    return mutate(
        r, "update",
        [&](config::Config& c) -> std::optional<Reply> {
            config::TlsContext* ctx = nullptr;
            for (auto& x : c.tls_contexts)
                if (x.name == name) ctx = &x;
            if (!ctx) return Reply::error(404, "no TLS context '" + name + "'");
            if (subjects) ctx->peer_subjects = *subjects;
            if (ciphers) {
                // IANA names are accepted and written as OpenSSL's.
                std::vector<std::string> names;
                for (const auto& n : *ciphers) {
                    const auto* info = tls::CipherCatalog::instance().find(n);
                    names.push_back(info ? info->openssl_name : n);
                }
                ctx->ciphers = std::move(names);
            }
            return std::nullopt;
        },
        [&](const config::Config& c) -> json::value {
            const auto* ctx = c.find_tls_context(name);
            return ctx ? json::value(context_view(c, *ctx, false)) : json::value(nullptr);
        });
}

// --- trust stores -------------------------------------------------------------------------------

Reply AdminService::get_trust_stores(Request&) {
    const auto& c = snapshot()->config;
    json::array list;
    for (const auto& t : c.trust_stores) {
        json::array users;
        for (const auto& ctx : c.tls_contexts)
            if (ctx.trust_store == t.name) users.emplace_back(ctx.name);
        list.emplace_back(json::object{{"name", t.name}, {"dir", t.dir.resolved.string()}, {"used_by", users}});
    }
    return Reply::json_body(200, json::object{{"trust_stores", list}});
}

Reply AdminService::get_certificates(Request& r) {
    const auto* store = snapshot()->config.find_trust_store(r.params.at(0));
    if (!store) return Reply::error(404, "no trust store '" + r.params.at(0) + "'");
    auto contents = tls::read_trust_store(store->dir.resolved);
    if (!contents) return Reply::error(500, contents.error());
    json::array list;
    for (const auto& e : contents->certificates) {
        X509* cert = e.cert.get();
        list.emplace_back(json::object{{"subject", tls::subject_oneline(cert)},
                                       {"issuer", tls::issuer_oneline(cert)},
                                       {"not_after", time_text(X509_get0_notAfter(cert))},
                                       {"fingerprint", tls::sha256_fingerprint(cert)},
                                       {"ca", X509_check_ca(cert) != 0},
                                       {"file", e.file.filename().string()}});
    }
    return Reply::json_body(200, json::object{{"trust_store", store->name}, {"certificates", list}});
}

Reply AdminService::post_certificate(Request& r) {
    const auto store_name = r.params.at(0);
    auto refuse = [&](Reply reply) {
        audit(r, "create", r.path, nullptr, nullptr, std::to_string(reply.status));
        return reply;
    };
    if (r.content_type != "application/x-pem-file" && r.content_type != "text/plain")
        return refuse(Reply::error(415, "send the certificate as PEM (application/x-pem-file or text/plain)"));
    const auto* store = snapshot()->config.find_trust_store(store_name);
    if (!store) return refuse(Reply::error(404, "no trust store '" + store_name + "'"));
    Reply failure;
    auto current = read_config(failure);
    if (!current) return failure;
    std::string wanted = r.if_match.rfind("W/", 0) == 0 ? r.if_match.substr(2) : r.if_match;
    if (r.if_match.empty())
        return refuse(Reply::error(428, "an import changes the configuration: it needs If-Match with its ETag",
                                   {{"etag", etag(current->version)}}));
    if (wanted != etag(current->version) && wanted != current->version)
        return refuse(Reply::error(412, "the configuration changed since it was read; read it again and retry",
                                   {{"etag", etag(current->version)}}));
    if (r.body.find("PRIVATE KEY") != std::string::npos)
        return refuse(Reply::error(400, "the body holds a private key: send the certificate only"));
    // The same import as `ward cert import`, from a private staging file (0600, a fresh name,
    // removed whatever happens).
    const auto& file = snapshot()->config.file;
    const auto tmp = fs::temp_directory_path() / ("ward-import-" + ops::hex(ops::random_bytes(12)) + ".pem");
    {
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return refuse(Reply::error(500, "cannot stage the certificate"));
        std::size_t done = 0;
        while (done < r.body.size()) {
            const auto n = ::write(fd, r.body.data() + done, r.body.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
        if (done != r.body.size()) {
            ::unlink(tmp.c_str());
            return refuse(Reply::error(500, "cannot stage the certificate"));
        }
    }
    struct Unlink {
        fs::path path;
        ~Unlink() { ::unlink(path.c_str()); }
    } staged{tmp};
    ops::ImportRequest request;
    request.config_file = file;
    request.store = store_name;
    request.certificate = tmp;
    request.description = "imported through the admin API by " + r.account;
    json::array diagnostics_json;
    request.check = [&](const std::string& text) {
        config::Diagnostics d(file.string());
        auto ok = build_snapshot_from_text(text, file, d, *snapshot()) != nullptr;
        for (const auto& x : d.all()) diagnostics_json.emplace_back(config::format(x));
        return ok;
    };
    config::Diagnostics diagnostics(file.string());
    auto report = ops::import_certificate(request, diagnostics);
    if (!report) {
        return refuse(Reply::error(diagnostics_json.empty() ? 422 : 422, report.error(),
                                   {{"diagnostics", diagnostics_json}}));
    }
    json::array changes;
    for (const auto& c : report->changes) changes.emplace_back(c);
    audit(r, "create", r.path, nullptr, json::object{{"changes", changes}}, "ok");
    json::object body{{"changes", changes}, {"summary", report->summary}};
    if (!report->changes.empty()) body["reload"] = reload_json(control_.reload());
    auto after = read_config(failure);
    auto reply = Reply::json_body(report->changes.empty() ? 200 : 201, body);
    if (after) reply.headers.emplace_back("ETag", etag(after->version));
    return reply;
}

Reply AdminService::delete_certificate(Request& r) {
    const auto store_name = r.params.at(0);
    const auto fingerprint = config::lower(r.params.at(1));
    const auto* store = snapshot()->config.find_trust_store(store_name);
    if (!store) return Reply::error(404, "no trust store '" + store_name + "'");
    auto contents = tls::read_trust_store(store->dir.resolved);
    if (!contents) return Reply::error(500, contents.error());
    auto normal = [](std::string s) {
        std::string out;
        for (char c : config::lower(s))
            if (c != ':') out += c;
        return out;
    };
    for (const auto& e : contents->certificates) {
        if (normal(tls::sha256_fingerprint(e.cert.get())) != normal(fingerprint)) continue;
        const auto subject = tls::subject_oneline(e.cert.get());
        std::error_code ec;
        fs::remove(e.file, ec);
        if (ec) {
            audit(r, "delete", r.path, nullptr, nullptr, "500 " + ec.message());
            return Reply::error(500, "cannot remove " + e.file.string() + ": " + ec.message());
        }
        audit(r, "delete", r.path, json::object{{"subject", subject}, {"file", e.file.filename().string()}}, nullptr,
              "ok");
        return Reply::json_body(200, json::object{{"removed", subject},
                                                  {"file", e.file.string()},
                                                  {"reload", reload_json(control_.reload())},
                                                  {"note", "its subject stays in tls_peer_subjects and in the "
                                                           "contexts that select it; remove it there if it should go"}});
    }
    audit(r, "delete", r.path, nullptr, nullptr, "404");
    return Reply::error(404, "no certificate with SHA-256 fingerprint " + r.params.at(1) + " in trust store '" +
                                 store_name + "'");
}

// --- security mode ------------------------------------------------------------------------------

Reply AdminService::get_mode(Request&) {
    Reply failure;
    auto text = read_config(failure);
    if (!text) return failure;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    const auto running = snapshot()->config.security.mode;
    const auto written = loaded.config ? loaded.config->security.mode : running;
    auto reply = Reply::json_body(200, json::object{{"mode", std::string(config::to_string(written))},
                                                    {"running_mode", std::string(config::to_string(running))},
                                                    {"restart_pending", written != running}});
    reply.headers.emplace_back("ETag", etag(text->version));
    return reply;
}

Reply AdminService::put_mode(Request& r) {
    if (r.content_type != "application/json") return Reply::error(415, "send application/json");
    auto parsed = parse_object(r.body, {"mode", "check_only"});
    if (parsed.refusal) return *parsed.refusal;
    std::optional<std::string> mode;
    std::optional<bool> check_only;
    if (auto e = get_string(parsed.object, "mode", mode)) return *e;
    if (auto e = get_bool(parsed.object, "check_only", check_only)) return *e;
    if (!mode) return Reply::error(400, "send {\"mode\": \"standard|fips|enhanced|common-criteria\"}");
    auto parsed_mode = config::parse_enum<config::SecurityMode>(*mode);
    if (!parsed_mode)
        return Reply::error(400, "'" + *mode + "' is not a security mode (standard, fips, enhanced, common-criteria)",
                            {{"field", "mode"}});
    auto reply = mutate(
        r, "update",
        [&](config::Config& c) -> std::optional<Reply> {
            c.security.mode = *parsed_mode;
            // The running process cannot load the FIPS provider to try it (that would switch
            // it); its files must at least be there for the restart.
            const auto& dir = c.security.fips_module_dir.resolved;
            if (config::at_least_fips(c.security.mode) && c.security.fips_provider == config::FipsProvider::required &&
                !tls::fips_provider_active() &&
                (!fs::exists(dir / "fips.so") || !fs::exists(dir / "fipsmodule.cnf")))
                return Reply::error(422, std::string(config::to_string(c.security.mode)) +
                                             " mode needs the OpenSSL FIPS provider, and " + dir.string() +
                                             " has no fips.so and fipsmodule.cnf (deploy/fips/build-provider.sh installs "
                                             "them); nothing was written");
            return std::nullopt;
        },
        [](const config::Config& c) -> json::value {
            return json::object{{"mode", std::string(config::to_string(c.security.mode))}};
        },
        true, 200, check_only.value_or(false));
    bool certificate_refused = false;
    if (reply.status == 422) {
        auto v = json::parse(reply.body);
        if (const auto* d = v.as_object().if_contains("diagnostics"))
            for (const auto& x : d->as_array())
                certificate_refused = certificate_refused ||
                                      std::string_view(x.as_object().at("path").as_string()).rfind("certificates", 0) == 0;
    }
    if (certificate_refused) {
        auto body = json::parse(reply.body).as_object();
        body["suggestion"] = "replace each refused certificate with one the mode allows: 'ward pki issue' makes them "
                             "(ECDSA P-256 or RSA 3072 and up, SHA-256 and up)";
        reply.body = json::serialize(body) + "\n";
    }
    return reply;
}

// --- Control Center ------------------------------------------------------------------------------

Reply AdminService::get_listeners(Request&) {
    json::array list;
    for (const auto& l : control_.listeners()) {
        list.emplace_back(json::object{{"name", l.name},
                                       {"protocol", l.protocol},
                                       {"bind", l.bind},
                                       {"tls_context", l.tls_context},
                                       {"active_sessions", l.active},
                                       {"accepted", l.accepted},
                                       {"handshakes", l.handshakes},
                                       {"handshake_failures", l.handshake_failures},
                                       {"refusals", l.refusals}});
    }
    return Reply::json_body(200, json::object{{"node", snapshot()->config.node.name},
                                              {"generation", snapshot()->generation},
                                              {"last_reload", reload_json(control_.last_reload())},
                                              {"listeners", list}});
}

Reply AdminService::post_restart(Request& r) {
    const auto name = r.params.at(0);
    if (!snapshot()->find_listener(name)) {
        audit(r, "restart", r.path, nullptr, nullptr, "404");
        return Reply::error(404, "no listener '" + name + "'");
    }
    const auto outcome = control_.reload(name);
    audit(r, "restart", r.path, nullptr, reload_json(outcome), outcome.applied ? "ok" : "failed: " + outcome.message);
    return Reply::json_body(outcome.applied ? 200 : 409, json::object{{"listener", name}, {"reload", reload_json(outcome)}});
}

Reply AdminService::post_reload(Request& r) {
    const auto outcome = control_.reload();
    audit(r, "reload", r.path, nullptr, reload_json(outcome), outcome.applied ? "ok" : "failed: " + outcome.message);
    return Reply::json_body(outcome.applied ? 200 : 409, json::object{{"reload", reload_json(outcome)}});
}

// --- audit ----------------------------------------------------------------------------------------

Reply AdminService::get_audit_verify(Request&) {
    // The whole file is read: at most every 30 s, the verdict kept in between (with its time).
    const auto now = std::chrono::steady_clock::now();
    if (!verdict_ || now - verdict_checked_ >= std::chrono::seconds(30)) {
        verdict_ = ops::verify_audit(audit_.file());
        verdict_checked_ = now;
        verdict_time_ = now_();
    }
    const auto& v = *verdict_;
    return Reply::json_body(200, json::object{{"ok", v.ok},
                                              {"records", v.records},
                                              {"broken_line", v.broken_line},
                                              {"why", v.why},
                                              {"verified_at", ops::format_time(verdict_time_)}});
}

Reply AdminService::get_audit(Request& r) {
    ops::SystemClock::time_point since{};
    if (auto it = r.query.find("since"); it != r.query.end()) {
        auto t = ops::parse_time(it->second);
        if (!t) return Reply::error(400, "since is a time like 2026-12-05T01:02:03Z", {{"field", "since"}});
        since = *t;
    }
    std::size_t limit = 1000;
    if (auto it = r.query.find("limit"); it != r.query.end()) {
        try {
            limit = std::min<std::size_t>(std::stoul(it->second), 10000);
        } catch (...) {
            return Reply::error(400, "limit is a whole number", {{"field", "limit"}});
        }
    }
    auto records = audit_.read_since(since, limit);
    if (!records) return Reply::error(500, records.error());
    json::array list;
    for (auto& v : *records) list.push_back(std::move(v));
    return Reply::json_body(200, json::object{{"records", list}});
}

}  // namespace ward::proxy::admin
