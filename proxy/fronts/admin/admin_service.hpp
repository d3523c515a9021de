// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin plane's state and its resources: accounts and their sessions, login throttling and
// lockout, the audit log, and one handler per resource (resources.cpp). Everything runs on the
// server's control thread: no locks.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "proxy/engine/control.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/fronts/admin/api.hpp"
#include "proxy/ops/accounts.hpp"
#include "proxy/ops/audit.hpp"

namespace ward::proxy::admin {

// Who may do what: a route is open to the roles in its mask.
enum Access : unsigned {
    kPublic = 0,  // no login (banner, health, login itself)
    kAdmin = 1u << 0,
    kOperator = 1u << 1,
    kAuditor = 1u << 2,
    kAnyAccount = kAdmin | kOperator | kAuditor,
};

class AdminService final : public AdminPlane {
public:
    AdminService(Control& control, asio::io_context& io, ops::AccountStore accounts, ops::AuditLog audit,
                 std::function<ops::SystemClock::time_point()> clock);

    awaitable<void> serve(tcp::socket socket, tcp::endpoint peer) override;

    // One request, authenticated, authorized and audited (public for tests of the router).
    Reply handle(Request& request);

    struct Route {
        const char* method;
        const char* pattern;  // "/api/v1/peer-subjects/{}": {} is one decoded segment
        unsigned access;
        Reply (AdminService::*handler)(Request&);
        const char* action;  // what the audit log calls it (mutations and, in enhanced mode, reads)
    };

private:
    static constexpr std::size_t kMaxSessions = 1000;
    static constexpr std::size_t kMaxSessionsPerAccount = 8;  // a 9th login ends the oldest
    static constexpr std::size_t kMaxTracked = 10000;  // failure counters kept, by name and by address
    static constexpr std::size_t kMaxConnections = 128;
    static constexpr std::size_t kMaxConnectionsPerSource = 16;

    struct AdminSession {
        std::string account;
        ops::Role role = ops::Role::auditor;
        ops::SystemClock::time_point created;
        ops::SystemClock::time_point last_used;
        bool must_change_password = false;
        std::string certificate_cn;  // the client certificate's CN at login ("" without one)
        std::string password_digest;  // of the account's hash at login: a new password ends the session
        // A browser's session (login with Origin): the cookie only, with the key the page holds
        // (SHA-256 here). Other clients: the bearer token only.
        bool browser = false;
        std::string browser_key_digest;
        // Refusals it may write to the audit log: 20 a minute, then counted in the next record.
        ops::SystemClock::time_point refusal_window{};
        std::uint32_t refusals = 0;
        std::uint64_t refusals_unrecorded = 0;
    };
    struct Failures {
        std::uint32_t count = 0;
        ops::SystemClock::time_point last{};
        ops::SystemClock::time_point locked_until{};
        bool refusal_audited = false;  // one record per lock for the logins it refuses
    };
    struct SourceWindow {
        ops::SystemClock::time_point start{};
        std::uint32_t failures = 0;
        bool refusal_audited = false;  // one record per window for the logins it refuses
    };

    std::shared_ptr<const Snapshot> snapshot() const { return control_.current(); }
    ops::CredentialPolicy policy() const;
    void refresh_accounts();
    void audit(const Request& r, std::string action, std::string resource, json::value before, json::value after,
               std::string result);
    std::optional<Reply> authenticate(Request& r, const Route& route);
    // A failed password (login or password change) against `name`: counted, and the account
    // locked at the policy's limit. True when this failure locked it. `end_sessions`: the lock
    // also ends the account's sessions (a session guessing its own password); a stranger's
    // failed logins lock new logins out but never end sessions.
    bool count_failure(const Request& r, const std::string& name, bool end_sessions);
    // An authenticated request refused (role, CSRF, expired password): audited, at most 20 a
    // minute per session.
    void audit_refusal(AdminSession& session, const Request& r, const Reply& reply);
    void prune_failures();

    // The configuration file's text and version (the ETag), and a change to it: If-Match, the
    // change applied to a copy of the model, the full check, the atomic write, the audit record,
    // the reload. `change` returns a refusal, or nothing when the model was changed.
    struct ConfigText {
        std::string text;
        std::string version;
    };
    std::optional<ConfigText> read_config(Reply& failure) const;
    // The settings as written in the file (the running ones when the file does not load), with
    // the file's version: what every read of a setting answers from.
    struct Settings {
        config::Config config;
        std::string version;
        // A 200 with `body` and the version as ETag.
        Reply reply(const json::value& body) const;
    };
    std::optional<Settings> read_settings(Reply& failure) const;
    Reply mutate(Request& r, const std::string& action, const std::function<std::optional<Reply>(config::Config&)>& change,
                 const std::function<json::value(const config::Config&)>& view, bool mode_change = false,
                 int success_status = 200, bool dry_run = false);
    static std::string etag(const std::string& version) { return "\"" + version + "\""; }

    // Resources (resources.cpp).
    Reply get_health(Request&);
    Reply get_ready(Request&);
    Reply get_banner(Request&);
    Reply put_banner(Request&);
    Reply post_session(Request&);
    Reply get_session(Request&);
    Reply delete_session(Request&);
    Reply put_password(Request&);
    Reply get_xmpp(Request&);
    Reply put_xmpp(Request&);
    Reply get_peer_subjects(Request&);
    Reply post_peer_subject(Request&);
    Reply delete_peer_subject(Request&);
    Reply get_tls_contexts(Request&);
    Reply get_tls_context(Request&);
    Reply put_tls_context(Request&);
    Reply get_trust_stores(Request&);
    Reply get_certificates(Request&);
    Reply post_certificate(Request&);
    Reply delete_certificate(Request&);
    Reply get_mode(Request&);
    Reply put_mode(Request&);
    Reply get_listeners(Request&);
    Reply get_cluster(Request&);
    Reply post_restart(Request&);
    Reply post_reload(Request&);
    Reply get_audit(Request&);
    Reply get_audit_verify(Request&);

    json::value reload_json(const ReloadOutcome& outcome) const;
    std::string banner_text() const;

public:
    static const std::vector<Route>& routes();
    // The browser's session cookie: __Host- keeps it to this host, Secure, Path=/.
    static const char* const kSessionCookie;

private:
    Control& control_;
    asio::io_context& io_;
    ops::AccountStore accounts_;
    ops::AuditLog audit_;
    std::function<ops::SystemClock::time_point()> now_;
    std::map<std::string, AdminSession> sessions_;  // by SHA-256 of the token
    std::map<std::string, Failures> failures_;      // by account name (known or not)
    std::map<std::string, SourceWindow> sources_;   // by client address (IPv6: its /64)
    std::size_t connections_ = 0;
    std::map<std::string, std::size_t> connections_by_source_;
    // Live connections by age; `authenticated` once one of its requests had a session. At the
    // global cap the oldest without one makes room, so idle strangers cannot lock admins out.
    struct Live {
        std::weak_ptr<void> connection;
        std::function<void()> evict;
        bool authenticated = false;
        bool evicted = false;
    };
    std::map<std::uint64_t, Live> live_;
    RateLimiter refusal_log_{5};
    // The audit chain's verdict, computed at most every 30 s (it reads the whole file).
    std::optional<ops::AuditVerdict> verdict_;
    std::chrono::steady_clock::time_point verdict_checked_{};  // when it was computed (the cache's clock)
    ops::SystemClock::time_point verdict_time_{};              // the same, as a date for the answer
    std::string accounts_stamp_;  // inode, size and mtime of the users file as last read
    std::string dummy_hash_;                        // verified for unknown names: the same time
    std::uint64_t next_connection_ = 0;
};

}  // namespace ward::proxy::admin
