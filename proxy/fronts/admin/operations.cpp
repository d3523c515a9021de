// SPDX-License-Identifier: Apache-2.0
// The admin API's operations beside the settings: health, trust-store certificates (list,
// import as `ward cert import` does, delete), the Control Center (listeners, restart, reload) and
// the audit log.
#include <algorithm>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "config/values.hpp"
#include "proxy/fronts/admin/admin_service.hpp"
#include "proxy/ops/cert_import.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/trust_store.hpp"
#include "tls/x509.hpp"

namespace ward::proxy::admin {

namespace fs = std::filesystem;

namespace {

std::string tm_text(const std::tm& tm) {
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string time_text(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
    return tm_text(tm);
}

// Unix seconds as UTC text; null when never.
json::value unix_time(std::int64_t t) {
    if (t <= 0) return nullptr;
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return json::string(tm_text(tm));
}

}  // namespace

// --- health ---------------------------------------------------------------------------------

Reply AdminService::get_health(Request&) { return Reply::json_body(200, json::object{{"status", "alive"}}); }

Reply AdminService::get_ready(Request&) {
    const bool ready = control_.ready();
    json::object body{{"ready", ready}, {"generation", snapshot()->generation}};
    // A cluster's state is detail, never a reason to be unready: ward serves with the trust and
    // ticket keys it has while etcd is away.
    if (auto c = control_.cluster())
        body["cluster"] = json::object{{"etcd", c->etcd_reachable ? "reachable" : "away"}, {"ticket_keys", c->ticket_keys}};
    return Reply::json_body(ready ? 200 : 503, std::move(body));
}

// --- cluster ------------------------------------------------------------------------------------

Reply AdminService::get_cluster(Request&) {
    auto c = control_.cluster();
    if (!c) return Reply::error(404, "this node is in no cluster (no cluster block in its configuration)");
    const auto when = unix_time;
    json::array nodes;
    for (const auto& n : c->nodes) {
        json::object o{{"cluster", n.cluster},         {"node", n.node},          {"subject", n.subject},
                       {"fingerprint", n.fingerprint}, {"not_after", when(n.not_after)},
                       {"last_seen", when(n.last_seen)}, {"trusted", n.trusted}};
        if (!n.problem.empty()) o["problem"] = n.problem;
        nodes.emplace_back(std::move(o));
    }
    json::object etcd{{"reachable", c->etcd_reachable},
                      {"endpoint", c->etcd_endpoint},
                      {"last_contact", when(c->etcd_last_contact)}};
    if (!c->etcd_error.empty()) etcd["error"] = c->etcd_error;
    return Reply::json_body(200, json::object{{"cluster", c->name},
                                              {"node", c->node},
                                              {"published", c->published},
                                              {"etcd", std::move(etcd)},
                                              {"ticket_keys", json::object{{"state", c->ticket_keys},
                                                                           {"rotated_by", c->ticket_rotated_by},
                                                                           {"rotated", when(c->ticket_rotated)},
                                                                           {"rotations_won", c->ticket_rotations}}},
                                              {"nodes", std::move(nodes)}});
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
        // ward removes whole files: one that holds more than this certificate (a bundle of
        // anchors, or CRLs, whose loss would let revoked peers in) is left to the operator.
        const auto others = std::count_if(contents->certificates.begin(), contents->certificates.end(),
                                          [&](const auto& o) { return o.file == e.file; }) -
                            1 + std::count(contents->crl_files.begin(), contents->crl_files.end(), e.file);
        if (others > 0) {
            audit(r, "delete", r.path, json::object{{"subject", subject}, {"file", e.file.filename().string()}}, nullptr,
                  "409 the file holds more");
            return Reply::error(409, "'" + e.file.string() + "' holds " + std::to_string(others) +
                                         " other certificate(s) or CRL(s) besides " + subject +
                                         "; ward removes whole files only: split the file, or edit it by hand");
        }
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
