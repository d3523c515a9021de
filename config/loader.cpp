// SPDX-License-Identifier: Apache-2.0
#include "config/loader.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <cstring>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "config/checks.hpp"
#include "config/reader.hpp"
#include "config/values.hpp"

namespace ward::config {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxBannerBytes = 64 * 1024;

}  // namespace

using detail::Reader;

void Reader::read(const YAML::Node& root, Config& config) {
    if (!root.IsDefined() || root.IsNull()) {
        diag_.error({1, 1}, "", "the configuration is empty");
        return;
    }
    if (!map(root, "", {"node", "user", "pid_file", "security", "certificates", "trust_stores", "tls_peer_subjects",
                        "tls_contexts", "listeners", "workers", "limits", "metrics", "admin", "logging", "cluster"}))
        return;
    field(root, "node", "", [&](auto& n, auto& p) { read_node(n, p, config.node); });
    field(root, "user", "", [&](auto& n, auto& p) { set_string(n, p, config.user); });
    field(root, "pid_file", "", [&](auto& n, auto& p) { set_path(n, p, config.pid_file); });
    field(root, "security", "", [&](auto& n, auto& p) { read_security(n, p, config.security); });
    field(root, "limits", "", [&](auto& n, auto& p) { read_limits(n, p, config.limits, false); });
    field(root, "workers", "", [&](auto& n, auto& p) { set_int(n, p, config.workers, 0u, 256u); });
    field(root, "certificates", "", [&](auto& n, auto& p) { read_certificates(n, p, config); });
    field(root, "trust_stores", "", [&](auto& n, auto& p) { read_trust_stores(n, p, config); });
    field(root, "tls_peer_subjects", "", [&](auto& n, auto& p) { read_peer_subjects(n, p, config); });
    field(root, "tls_contexts", "", [&](auto& n, auto& p) { read_contexts(n, p, config); });
    field(root, "listeners", "", [&](auto& n, auto& p) { read_listeners(n, p, config); });
    field(root, "metrics", "", [&](auto& n, auto& p) {
        if (!map(n, p, {"enabled", "bind"})) return;
        field(n, "enabled", p, [&](auto& v, auto& q) { set_bool(v, q, config.metrics.enabled); });
        field(n, "bind", p, [&](auto& v, auto& q) { set_endpoint(v, q, config.metrics.bind, true); });
    });
    field(root, "admin", "", [&](auto& n, auto& p) {
        auto& a = config.admin;
        if (!map(n, p, {"enabled", "bind", "tls_context", "users_file", "audit_file", "session_timeout",
                        "session_lifetime", "lockout_attempts", "lockout_duration", "login_failures_per_minute",
                        "password_iterations", "max_body_size", "request_timeout"}))
            return;
        field(n, "enabled", p, [&](auto& v, auto& q) { set_bool(v, q, a.enabled); });
        field(n, "bind", p, [&](auto& v, auto& q) { set_endpoint(v, q, a.bind, true); });
        field(n, "tls_context", p, [&](auto& v, auto& q) { set_string(v, q, a.tls_context); });
        field(n, "users_file", p, [&](auto& v, auto& q) { set_path(v, q, a.users_file); });
        field(n, "audit_file", p, [&](auto& v, auto& q) { set_path(v, q, a.audit_file); });
        field(n, "session_timeout", p, [&](auto& v, auto& q) { set_duration(v, q, a.session_timeout); });
        field(n, "session_lifetime", p, [&](auto& v, auto& q) { set_duration(v, q, a.session_lifetime); });
        field(n, "lockout_attempts", p, [&](auto& v, auto& q) { set_int(v, q, a.lockout_attempts, 1u, 100u); });
        field(n, "lockout_duration", p, [&](auto& v, auto& q) { set_duration(v, q, a.lockout_duration); });
        field(n, "login_failures_per_minute", p,
              [&](auto& v, auto& q) { set_int(v, q, a.login_failures_per_minute, 1u, 10000u); });
        // 1000 is the FIPS provider's floor for PBKDF2; tests use it, production keeps the default.
        field(n, "password_iterations", p,
              [&](auto& v, auto& q) { set_int(v, q, a.password_iterations, 1000u, 10000000u); });
        field(n, "max_body_size", p, [&](auto& v, auto& q) { set_size(v, q, a.max_body_size, 64 * 1024, 64 * 1024 * 1024); });
        field(n, "request_timeout", p, [&](auto& v, auto& q) { set_duration(v, q, a.request_timeout); });
    });
    field(root, "logging", "", [&](auto& n, auto& p) {
        if (!map(n, p, {"level"})) return;
        field(n, "level", p, [&](auto& v, auto& q) { set_enum(v, q, config.logging.level, "a log level"); });
    });
    field(root, "cluster", "", [&](auto& n, auto& p) { read_cluster(n, p, config.cluster); });
    check_config(config, diag_);
}

void Reader::read_node(const YAML::Node& n, const std::string& path, Node& out) {
    if (!map(n, path, {"name", "banner_file"})) return;
    field(n, "name", path, [&](auto& v, auto& p) { set_string(v, p, out.name); });
    field(n, "banner_file", path, [&](auto& v, auto& p) {
        set_existing_path(v, p, out.banner_file, false);
        if (out.banner_file.empty() || !fs::is_regular_file(out.banner_file.resolved)) return;
        std::error_code ec;
        const auto size = fs::file_size(out.banner_file.resolved, ec);
        if (ec || size > kMaxBannerBytes) {
            error(v, p, "banner file '" + out.banner_file.resolved.string() + "' is larger than " +
                            format_size(kMaxBannerBytes));
            return;
        }
        std::ifstream in(out.banner_file.resolved, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (auto bad = first_invalid_utf8(content); bad != std::string::npos) {
            error(v, p, "banner file '" + out.banner_file.resolved.string() + "' is not valid UTF-8 (byte " +
                            std::to_string(bad) + ")");
        }
    });
}

void Reader::read_security(const YAML::Node& n, const std::string& path, Security& out) {
    if (!map(n, path, {"mode", "fips_provider", "fips_module_dir", "crl_missing", "xmpp"})) return;
    field(n, "mode", path, [&](auto& v, auto& p) { set_enum(v, p, out.mode, "a security mode"); });
    field(n, "fips_provider", path,
          [&](auto& v, auto& p) { set_enum(v, p, out.fips_provider, "a FIPS provider setting"); });
    field(n, "fips_module_dir", path, [&](auto& v, auto& p) { set_path(v, p, out.fips_module_dir); });
    field(n, "crl_missing", path, [&](auto& v, auto& p) { set_enum(v, p, out.crl_missing, "a CRL policy"); });
    field(n, "xmpp", path, [&](auto& x, auto& xp) {
        if (!map(x, xp, {"client_to_node_secure", "router_to_router_secure", "web_client_secure"})) return;
        field(x, "client_to_node_secure", xp,
              [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.client_to_node_secure); });
        field(x, "router_to_router_secure", xp,
              [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.router_to_router_secure); });
        field(x, "web_client_secure", xp, [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.web_client_secure); });
    });
}

void Reader::read_limits(const YAML::Node& n, const std::string& path, Limits& out, bool listener_level) {
    Keys keys{"max_connections", "max_handshakes_in_flight", "per_source", "handshake_timeout", "connect_timeout",
              "idle_timeout", "drain_timeout", "buffer_size"};
    if (!map(n, path, keys)) return;
    field(n, "max_connections", path,
          [&](auto& v, auto& p) { set_int(v, p, out.max_connections, 1u, 10'000'000u); });
    field(n, "max_handshakes_in_flight", path,
          [&](auto& v, auto& p) { set_int(v, p, out.max_handshakes_in_flight, 1u, 10'000'000u); });
    field(n, "per_source", path, [&](auto& ps, auto& pp) {
        if (!map(ps, pp, {"connections", "handshakes_per_second"})) return;
        field(ps, "connections", pp,
              [&](auto& v, auto& p) { set_int(v, p, out.per_source.connections, 0u, 10'000'000u); });
        field(ps, "handshakes_per_second", pp,
              [&](auto& v, auto& p) { set_int(v, p, out.per_source.handshakes_per_second, 0u, 1'000'000u); });
    });
    field(n, "handshake_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.handshake_timeout); });
    field(n, "connect_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.connect_timeout); });
    field(n, "idle_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.idle_timeout); });
    field(n, "drain_timeout", path, [&](auto& v, auto& p) {
        // Draining is what the whole process does when it stops: one budget for every session.
        if (listener_level)
            return error(v, p, "drain_timeout applies to the whole process when ward stops; set it in the "
                               "top-level limits");
        set_duration(v, p, out.drain_timeout);
    });
    field(n, "buffer_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.buffer_size, 1024, 16 * 1024 * 1024); });
}

void Reader::read_certificates(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of certificate names to {cert, key}");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        Certificate c;
        c.name = kv.first.Scalar();
        const auto p = join(path, c.name);
        if (!seen.insert(c.name).second) {
            error(kv.first, p, "repeated certificate name '" + c.name + "'");
            continue;
        }
        if (!map(kv.second, p, {"cert", "key"})) continue;
        required(kv.second, "cert", p, [&](auto& v, auto& q) { set_existing_path(v, q, c.cert, false); });
        required(kv.second, "key", p, [&](auto& v, auto& q) { set_existing_path(v, q, c.key, false); });
        config.certificates.push_back(std::move(c));
    }
}

void Reader::read_trust_stores(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of trust store names to {dir}");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        TrustStore t;
        t.name = kv.first.Scalar();
        const auto p = join(path, t.name);
        if (!seen.insert(t.name).second) {
            error(kv.first, p, "repeated trust store name '" + t.name + "'");
            continue;
        }
        if (!map(kv.second, p, {"dir"})) continue;
        required(kv.second, "dir", p, [&](auto& v, auto& q) { set_existing_path(v, q, t.dir, true); });
        config.trust_stores.push_back(std::move(t));
    }
}

void Reader::read_peer_subjects(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsSequence()) return error(n, path, "expected a list of {subject, description}");
    sources_.set(path, mark_of(n));
    for (std::size_t i = 0; i < n.size(); ++i) {
        const auto p = index(path, i);
        PeerSubject s;
        if (!map(n[i], p, {"subject", "description"})) continue;
        required(n[i], "subject", p, [&](auto& v, auto& q) {
            set_string(v, q, s.subject);
            if (!s.subject.empty() && config.find_peer_subject(s.subject))
                error(v, q, "subject '" + s.subject + "' is listed twice");
        });
        field(n[i], "description", p, [&](auto& v, auto& q) { if (auto d = scalar(v, q)) s.description = *d; });
        if (!s.subject.empty() && !config.find_peer_subject(s.subject))
            config.tls_peer_subjects.push_back(std::move(s));
    }
}

void Reader::read_contexts(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of context names to settings");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        TlsContext c;
        c.name = kv.first.Scalar();
        const auto p = join(path, c.name);
        if (!seen.insert(c.name).second) {
            error(kv.first, p, "repeated context name '" + c.name + "'");
            continue;
        }
        const auto& m = kv.second;
        if (!map(m, p, {"certificate", "certificates", "trust_store", "peer_subjects", "verify_peer", "ciphers",
                         "min_version", "max_version", "groups", "ocsp", "revocation"}))
            continue;
        field(m, "certificate", p, [&](auto& v, auto& q) { set_string(v, q, c.certificate); });
        field(m, "certificates", p, [&](auto& v, auto& q) {
            c.certificates = string_list(v, q);
            if (!c.certificate.empty()) error(v, q, "give either certificate or certificates, not both");
            else if (v.IsSequence() && c.certificates.empty()) error(v, q, "name at least one certificate");
        });
        field(m, "trust_store", p, [&](auto& v, auto& q) { set_string(v, q, c.trust_store); });
        field(m, "peer_subjects", p, [&](auto& v, auto& q) { c.peer_subjects = string_list(v, q); });
        field(m, "verify_peer", p, [&](auto& v, auto& q) { set_enum(v, q, c.verify_peer, "a verify mode"); });
        field(m, "ciphers", p, [&](auto& v, auto& q) { c.ciphers = string_list(v, q); });
        field(m, "min_version", p, [&](auto& v, auto& q) { set_enum(v, q, c.min_version, "a TLS version"); });
        field(m, "max_version", p, [&](auto& v, auto& q) { set_enum(v, q, c.max_version, "a TLS version"); });
        field(m, "groups", p, [&](auto& v, auto& q) { c.groups = string_list(v, q); });
        field(m, "ocsp", p, [&](auto& v, auto& q) {
            if (!map(v, q, {"staple", "responder_override", "refresh"})) return;
            field(v, "staple", q, [&](auto& w, auto& r) { set_bool(w, r, c.ocsp.staple); });
            field(v, "responder_override", q, [&](auto& w, auto& r) { set_string(w, r, c.ocsp.responder_override); });
            field(v, "refresh", q, [&](auto& w, auto& r) { set_duration(w, r, c.ocsp.refresh); });
        });
        field(m, "revocation", p, [&](auto& v, auto& q) {
            if (!map(v, q, {"crl", "ocsp", "responder_override", "timeout", "cache"})) return;
            field(v, "crl", q, [&](auto& w, auto& r) { set_enum(w, r, c.revocation.crl, "a CRL check"); });
            field(v, "ocsp", q, [&](auto& w, auto& r) { set_enum(w, r, c.revocation.ocsp, "an OCSP check"); });
            field(v, "responder_override", q,
                  [&](auto& w, auto& r) { set_string(w, r, c.revocation.responder_override); });
            field(v, "timeout", q, [&](auto& w, auto& r) { set_duration(w, r, c.revocation.timeout); });
            field(v, "cache", q, [&](auto& w, auto& r) { set_duration(w, r, c.revocation.cache); });
        });
        config.tls_contexts.push_back(std::move(c));
    }
}

void Reader::read_listeners(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsSequence()) return error(n, path, "expected a list of listeners");
    sources_.set(path, mark_of(n));
    for (std::size_t i = 0; i < n.size(); ++i) {
        Listener l;
        l.limits = config.limits;
        read_listener(n[i], index(path, i), config, l);
        config.listeners.push_back(std::move(l));
    }
}

void Reader::read_listener(const YAML::Node& n, const std::string& path, const Config& config, Listener& out) {
    (void)config;
    if (!map(n, path,
             {"name", "protocol", "bind", "backends", "tls_context", "limits", "xmpp", "sip", "exchange",
              "proxy_protocol", "accept_proxy_protocol"}))
        return;
    required(n, "name", path, [&](auto& v, auto& p) { set_string(v, p, out.name); });
    required(n, "protocol", path, [&](auto& v, auto& p) { set_enum(v, p, out.protocol, "a listener protocol"); });
    required(n, "bind", path, [&](auto& v, auto& p) { set_endpoint(v, p, out.bind, true); });
    field(n, "backends", path, [&](auto& v, auto& p) {
        if (!v.IsSequence()) return error(v, p, "expected a list of host:port");
        for (std::size_t i = 0; i < v.size(); ++i) {
            const auto q = index(p, i);
            sources_.set(q, mark_of(v[i]));
            Endpoint e;
            set_endpoint(v[i], q, e, false);
            if (e.port != 0) out.backends.push_back(e);
        }
    });
    field(n, "tls_context", path, [&](auto& v, auto& p) { set_string(v, p, out.tls_context); });
    field(n, "limits", path, [&](auto& v, auto& p) { read_limits(v, p, out.limits, true); });
    field(n, "xmpp", path, [&](auto& x, auto& xp) {
        out.xmpp.emplace();
        if (!map(x, xp, {"domains", "routes", "web"})) return;
        field(x, "domains", xp, [&](auto& v, auto& p) { out.xmpp->domains = string_list(v, p); });
        field(x, "web", xp, [&](auto& w, auto& wp) { read_web(w, wp, out.xmpp->web.emplace()); });
        field(x, "routes", xp, [&](auto& v, auto& p) {
            if (!v.IsMap()) return error(v, p, "expected a mapping of domain to host:port or { address, tls }");
            for (const auto& kv : v) {
                const auto q = join(p, kv.first.Scalar());
                sources_.set(q, mark_of(kv.second));
                XmppRoute route;
                if (kv.second.IsMap()) {
                    if (!map(kv.second, q, {"address", "tls"})) continue;
                    required(kv.second, "address", q, [&](auto& a, auto& ap) { set_endpoint(a, ap, route.address, false); });
                    field(kv.second, "tls", q, [&](auto& t, auto& tp) {
                        const std::string mode = t.IsScalar() ? t.Scalar() : std::string();
                        if (mode == "direct") route.direct_tls = true;
                        else if (mode != "starttls") error(t, tp, "expected starttls or direct");
                    });
                } else {
                    set_endpoint(kv.second, q, route.address, false);
                }
                if (route.address.port != 0) out.xmpp->routes[kv.first.Scalar()] = route;
            }
        });
    });
    field(n, "sip", path, [&](auto& s, auto& sp) {
        out.sip.emplace();
        if (!map(s, sp, {"identity_header", "max_header_size", "max_body_size", "message_timeout", "return_bind",
                          "advertised"}))
            return;
        field(s, "identity_header", sp, [&](auto& v, auto& p) {
            set_string(v, p, out.sip->identity_header);
            if (!is_sip_token(out.sip->identity_header))
                error(v, p, "'" + out.sip->identity_header + "' is not a valid SIP header name");
            else if (is_reserved_sip_header(out.sip->identity_header))
                error(v, p, "'" + out.sip->identity_header + "' is a header ward reads or rewrites; choose another name");
        });
        field(s, "max_header_size", sp,
              [&](auto& v, auto& p) { set_size(v, p, out.sip->max_header_size, 1024, 1024 * 1024); });
        field(s, "max_body_size", sp,
              [&](auto& v, auto& p) { set_size(v, p, out.sip->max_body_size, 0, 16 * 1024 * 1024); });
        field(s, "message_timeout", sp, [&](auto& v, auto& p) { set_duration(v, p, out.sip->message_timeout); });
        field(s, "return_bind", sp, [&](auto& v, auto& p) { set_endpoint(v, p, out.sip->return_bind.emplace(), true); });
        field(s, "advertised", sp, [&](auto& v, auto& p) { set_endpoint(v, p, out.sip->advertised.emplace(), false); });
    });
    field(n, "exchange", path, [&](auto& e, auto& ep) { read_exchange(e, ep, out.exchange.emplace()); });
    field(n, "proxy_protocol", path,
          [&](auto& v, auto& p) { set_enum(v, p, out.proxy_protocol, "a PROXY protocol version"); });
    field(n, "accept_proxy_protocol", path, [&](auto& v, auto& p) {
        if (!v.IsSequence()) return error(v, p, "expected a list of addresses or address/prefix-length");
        for (std::size_t i = 0; i < v.size(); ++i) {
            const auto q = index(p, i);
            sources_.set(q, mark_of(v[i]));
            auto s = text(v[i], q);
            if (!s) continue;
            std::string why;
            if (auto net = parse_network(*s, why)) out.accept_proxy_protocol.push_back(std::move(*net));
            else error(v[i], q, "'" + *s + "' " + why);
        }
    });
}

void Reader::read_exchange(const YAML::Node& n, const std::string& path, ExchangeOptions& out) {
    if (!map(n, path, {"auth", "credentials_file", "domain", "workstation", "max_header_size", "max_body_size",
                       "max_response_size", "request_timeout", "pool_size"}))
        return;
    field(n, "auth", path, [&](auto& v, auto& p) { set_enum(v, p, out.auth, "an Exchange authentication setting"); });
    required(n, "credentials_file", path, [&](auto& v, auto& p) {
        set_existing_path(v, p, out.credentials_file, false);
        if (out.credentials_file.empty()) return;
        // The password is in it: readable by ward's user alone (as ssh and the admin users
        // file insist).
        std::error_code ec;
        const auto perms = fs::status(out.credentials_file.resolved, ec).permissions();
        if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
            error(v, p, "'" + out.credentials_file.resolved.string() +
                            "' can be read or written by others than its owner; make it mode 0600 (chmod 600)");
    });
    auto ntlm_name = [&](const YAML::Node& v, const std::string& p, std::string& target) {
        set_string(v, p, target);
        // Written into NTLM messages as UTF-16 and into logs: printable, no separators.
        const bool ok = target.size() <= 255 && std::all_of(target.begin(), target.end(), [](unsigned char c) {
                            return c > 0x20 && c != 0x7f && c != '\\' && c != '/' && c != ':' && c != '@';
                        });
        if (!ok) error(v, p, "'" + target + "' is not a domain or workstation name (no spaces, control characters, "
                             "'\\', '/', ':' or '@'; at most 255 bytes)");
    };
    field(n, "domain", path, [&](auto& v, auto& p) { ntlm_name(v, p, out.domain); });
    field(n, "workstation", path, [&](auto& v, auto& p) { ntlm_name(v, p, out.workstation); });
    field(n, "max_header_size", path, [&](auto& v, auto& p) { set_size(v, p, out.max_header_size, 1024, 1024 * 1024); });
    field(n, "max_body_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.max_body_size, 1024, 256 * 1024 * 1024); });
    field(n, "max_response_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.max_response_size, 1024, 1024 * 1024 * 1024); });
    field(n, "request_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.request_timeout); });
    field(n, "pool_size", path, [&](auto& v, auto& p) {
        auto s = scalar(v, p);
        std::uint32_t value = 0;
        if (!s) return;
        const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
        if (ec != std::errc() || end != s->data() + s->size() || value > 1024)
            return error(v, p, "'" + *s + "' is not a pool size (0 to 1024 connections)");
        out.pool_size = value;
    });
}

void Reader::read_web(const YAML::Node& n, const std::string& path, XmppWebOptions& out) {
    if (!map(n, path, {"bosh_path", "websocket_path", "allowed_origins", "max_header_size", "max_body_size",
                       "max_response_size", "max_message_size", "request_timeout", "bosh_max_wait"}))
        return;
    auto http_path = [&](const YAML::Node& v, const std::string& p, std::string& target) {
        set_string(v, p, target);
        if (!is_http_path(target))
            error(v, p, "'" + target + "' is not an absolute path (it starts with '/' and has no query, fragment, "
                        "'..', '//' or characters that need escaping)");
    };
    field(n, "bosh_path", path, [&](auto& v, auto& p) { http_path(v, p, out.bosh_path); });
    field(n, "websocket_path", path, [&](auto& v, auto& p) { http_path(v, p, out.websocket_path); });
    field(n, "allowed_origins", path, [&](auto& v, auto& p) {
        out.allowed_origins = string_list(v, p);
        for (std::size_t i = 0; i < out.allowed_origins.size(); ++i) {
            auto& origin = out.allowed_origins[i];
            if (auto normal = normalize_origin(origin)) origin = *normal;
            else error(v[i], index(p, i), "'" + origin + "' is not an origin (https://host or https://host:port)");
        }
    });
    field(n, "max_header_size", path, [&](auto& v, auto& p) { set_size(v, p, out.max_header_size, 1024, 1024 * 1024); });
    field(n, "max_body_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.max_body_size, 1024, 16 * 1024 * 1024); });
    field(n, "max_response_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.max_response_size, 1024, 64 * 1024 * 1024); });
    field(n, "max_message_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.max_message_size, 1024, 16 * 1024 * 1024); });
    field(n, "request_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.request_timeout); });
    field(n, "bosh_max_wait", path, [&](auto& v, auto& p) { set_duration(v, p, out.bosh_max_wait); });
}

LoadResult load_string(std::string_view text, const std::filesystem::path& file) {
    LoadResult result{std::nullopt, std::nullopt, Diagnostics(file.string())};
    auto sources = std::make_shared<SourceMap>();
    Config config;
    config.file = file;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        result.diagnostics.error({e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax: " + e.msg);
        return result;
    }
    fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
    config.sources = sources;
    Reader(result.diagnostics, *sources, base).read(root, config);
    if (!result.diagnostics.has_errors()) result.config = config;
    result.partial = std::move(config);
    return result;
}

LoadResult load_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        LoadResult result{std::nullopt, std::nullopt, Diagnostics(file.string())};
        result.diagnostics.error({}, "", "cannot read the configuration file: " + std::string(std::strerror(errno)));
        return result;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load_string(ss.str(), file);
}

}  // namespace ward::config
