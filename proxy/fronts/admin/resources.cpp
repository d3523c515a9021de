// SPDX-License-Identifier: Apache-2.0
// The admin API's settings, as the guide's pages show them: the banner, the secure modes, the
// TLS peer subjects, the TLS contexts and the security mode. Reads answer with the configuration's
// version as ETag; every change goes through AdminService::mutate (If-Match, the full check, the
// atomic write, the audit record, the reload). Sessions: sessions.cpp; the rest: operations.cpp.

#include <fstream>

#include <boost/json.hpp>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "proxy/fronts/admin/admin_service.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/cipher_catalog.hpp"
#include "tls/fips_provider.hpp"

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

// --- System > Security > Settings ---------------------------------------------------------------

Reply AdminService::get_xmpp(Request&) {
    Reply failure;
    auto settings = read_settings(failure);
    if (!settings) return failure;
    return settings->reply(xmpp_view(settings->config));
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
                       "they started with (where the guide restarts the Connection Manager), except plain HTTP "
                       "keep-alive connections of xmpp-web listeners, which take no further request once "
                       "web_client_secure is on";
        reply.body = json::serialize(body) + "\n";
    }
    return reply;
}

// --- TLS Peer Subjects --------------------------------------------------------------------------

Reply AdminService::get_peer_subjects(Request& r) {
    Reply failure;
    auto settings = read_settings(failure);
    if (!settings) return failure;
    json::array list = subjects_view(settings->config);
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
    return settings->reply(json::object{{"peer_subjects", list}});
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
    auto settings = read_settings(failure);
    if (!settings) return failure;
    const auto& c = settings->config;
    json::array list;
    for (const auto& ctx : c.tls_contexts) list.push_back(context_view(c, ctx, false));
    return settings->reply(json::object{{"tls_contexts", list}});
}

Reply AdminService::get_tls_context(Request& r) {
    Reply failure;
    auto settings = read_settings(failure);
    if (!settings) return failure;
    const auto* ctx = settings->config.find_tls_context(r.params.at(0));
    if (!ctx) return Reply::error(404, "no TLS context '" + r.params.at(0) + "'");
    return settings->reply(context_view(settings->config, *ctx, true));
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

// --- security mode ------------------------------------------------------------------------------

Reply AdminService::get_mode(Request&) {
    Reply failure;
    auto settings = read_settings(failure);
    if (!settings) return failure;
    const auto running = snapshot()->config.security.mode;
    const auto written = settings->config.security.mode;
    return settings->reply(json::object{{"mode", std::string(config::to_string(written))},
                                        {"running_mode", std::string(config::to_string(running))},
                                        {"restart_pending", written != running}});
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

}  // namespace ward::proxy::admin
