// SPDX-License-Identifier: Apache-2.0
// The admin plane: making it, the route table with the role matrix, handle() (routing, then
// authentication in sessions.cpp, then the handler), and how every configuration change is made
// (mutate). Connections are in admin_connection.cpp, resources in resources.cpp.
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
#include "proxy/ops/secrets.hpp"

namespace ward::proxy::admin {

namespace fs = std::filesystem;

namespace {

std::function<ops::SystemClock::time_point()>& test_clock() {
    static std::function<ops::SystemClock::time_point()> clock;
    return clock;
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

// A request target holds printable ASCII only (RFC 3986: anything else is percent-encoded), so
// paths in logs and audit records are text.
bool printable_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

// What tells that the users file changed: its inode (an atomic write is a new file), size and
// modification time; "" when it cannot be read.
std::string file_stamp(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return {};
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec);
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
        {"GET", "/api/v1/cluster", kAdmin | kOperator | kAuditor, &AdminService::get_cluster, "read"},
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

std::optional<AdminService::Settings> AdminService::read_settings(Reply& failure) const {
    auto text = read_config(failure);
    if (!text) return std::nullopt;
    auto loaded = config::load_string(text->text, snapshot()->config.file);
    return Settings{loaded.config ? std::move(*loaded.config) : snapshot()->config, std::move(text->version)};
}

Reply AdminService::Settings::reply(const json::value& body) const {
    auto r = Reply::json_body(200, body);
    r.headers.emplace_back("ETag", etag(version));
    return r;
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
