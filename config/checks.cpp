// SPDX-License-Identifier: Apache-2.0
// The checks that span sections: references, conflicts, and what each protocol and mode needs.
// They run on the whole model once every section was read.
#include "config/checks.hpp"

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/values.hpp"

namespace ward::config {

namespace {

std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

}  // namespace

void check_config(Config& config, Diagnostics& diag) {
    const auto& sec = config.security;
    if (sec.fips_provider == FipsProvider::policy_only && !at_least_fips(sec.mode)) {
        diag.warning(config.mark("security.fips_provider"), "security.fips_provider",
                      "policy-only has no effect in standard mode");
    }

    for (auto& c : config.tls_contexts) {
        const auto p = "tls_contexts." + c.name;
        auto at = [&](std::string_view key) { return p + "." + std::string(key); };
        std::set<std::string> listed;
        for (std::size_t i = 0; i < c.certificates.size(); ++i) {
            const auto q = index(at("certificates"), i);
            if (!config.find_certificate(c.certificates[i]))
                diag.error(config.mark(q), q, "unknown certificate '" + c.certificates[i] + "'");
            else if (!listed.insert(c.certificates[i]).second)
                diag.error(config.mark(q), q, "certificate '" + c.certificates[i] + "' is listed twice");
        }
        if (!c.certificates.empty()) c.certificate = c.certificates.front();  // the default
        if (!c.certificate.empty() && c.certificates.empty() && !config.find_certificate(c.certificate)) {
            std::vector<std::string_view> names;
            for (auto& x : config.certificates) names.push_back(x.name);
            auto m = "unknown certificate '" + c.certificate + "'";
            if (auto s = suggest(c.certificate, names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag.error(config.mark(at("certificate")), at("certificate"), m);
        }
        if (!c.trust_store.empty() && !config.find_trust_store(c.trust_store)) {
            std::vector<std::string_view> names;
            for (auto& x : config.trust_stores) names.push_back(x.name);
            auto m = "unknown trust store '" + c.trust_store + "'";
            if (auto s = suggest(c.trust_store, names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag.error(config.mark(at("trust_store")), at("trust_store"), m);
        }
        std::set<std::string> seen;
        for (std::size_t i = 0; i < c.peer_subjects.size(); ++i) {
            const auto q = index(at("peer_subjects"), i);
            const auto& s = c.peer_subjects[i];
            if (!config.find_peer_subject(s)) {
                std::vector<std::string_view> names;
                for (auto& x : config.tls_peer_subjects) names.push_back(x.subject);
                auto m = "'" + s + "' is not in tls_peer_subjects";
                if (auto sug = suggest(s, names); !sug.empty()) m += "; did you mean '" + sug + "'?";
                diag.error(config.mark(q), q, m);
            }
            if (!seen.insert(lower(s)).second) diag.error(config.mark(q), q, "'" + s + "' is selected twice");
        }
        if (c.verify_peer != VerifyPeer::none && c.trust_store.empty()) {
            diag.error(config.mark(p), p,
                        "verify_peer is " + std::string(to_string(c.verify_peer)) +
                            " but no trust_store is set to verify peers against");
        }
        if (c.verify_peer == VerifyPeer::none && !c.peer_subjects.empty()) {
            diag.error(config.mark(at("peer_subjects")), at("peer_subjects"),
                        "peer subjects are selected but verify_peer is none, so no peer certificate is checked");
        }
        if (c.ocsp.staple && c.certificate.empty())
            diag.error(config.mark(at("ocsp")), at("ocsp"), "ocsp.staple needs a certificate to staple for");
        if (c.ocsp.refresh < std::chrono::seconds(1) || c.ocsp.refresh > std::chrono::hours(24 * 7))
            diag.error(config.mark(at("ocsp.refresh")), at("ocsp.refresh"), "refresh must be between 1s and 168h");
        const auto& rev = c.revocation;
        if (rev.ocsp != OcspCheck::off && c.verify_peer == VerifyPeer::none)
            diag.error(config.mark(at("revocation.ocsp")), at("revocation.ocsp"),
                       "peers' revocation is checked but verify_peer is none, so no peer certificate is checked");
        if (rev.ocsp == OcspCheck::prefer && sec.mode == SecurityMode::common_criteria)
            diag.error(config.mark(at("revocation.ocsp")), at("revocation.ocsp"),
                       "common-criteria mode fails closed: a peer whose status cannot be had must be refused "
                       "(ocsp: require)");
        if (rev.timeout < std::chrono::milliseconds(100) || rev.timeout > std::chrono::seconds(30))
            diag.error(config.mark(at("revocation.timeout")), at("revocation.timeout"),
                       "timeout must be between 100ms and 30s");
        if (rev.cache < std::chrono::seconds(1) || rev.cache > std::chrono::hours(24 * 7))
            diag.error(config.mark(at("revocation.cache")), at("revocation.cache"), "cache must be between 1s and 168h");
        if (c.min_version > c.max_version) {
            diag.error(config.mark(at("min_version")), at("min_version"),
                        std::string(to_string(c.min_version)) + " is above max_version " +
                            std::string(to_string(c.max_version)));
        }
        if (c.min_version < TlsVersion::tls1_2) {
            if (sec.mode == SecurityMode::standard) {
                diag.warning(config.mark(at("min_version")), at("min_version"),
                              std::string(to_string(c.min_version)) + " is obsolete (RFC 8996); use TLS1.2");
            } else {
                diag.error(config.mark(at("min_version")), at("min_version"),
                            std::string(to_string(c.min_version)) + " is not allowed in " +
                                std::string(to_string(sec.mode)) +
                                " mode: TLS 1.0 and 1.1 need MD5-SHA1, which FIPS 140 does not approve, and "
                                "Common Criteria requires TLS 1.2 or later");
            }
        }
    }

    // Listeners: references, protocol needs, address conflicts.
    std::set<std::string> names;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        auto& l = config.listeners[i];
        const auto p = index("listeners", i);
        auto at = [&](std::string_view key) { return p + "." + std::string(key); };
        if (!l.name.empty() && !names.insert(l.name).second)
            diag.error(config.mark(at("name")), at("name"), "listener name '" + l.name + "' is used twice");
        if (l.protocol == Protocol::sip_return) {
            diag.error(config.mark(at("protocol")), at("protocol"),
                       "ward makes sip-return listeners itself: set sip.return_bind on the sip listener instead");
            continue;
        }
        // (xmpp-web too: with web_client_secure off it takes plain HTTP as well as HTTPS.)
        if (l.tls_context.empty()) {
            diag.error(config.mark(p), at("tls_context"),
                        "a " + std::string(to_string(l.protocol)) + " listener needs a tls_context");
        } else if (const auto* ctx = config.find_tls_context(l.tls_context); !ctx) {
            std::vector<std::string_view> ctx_names;
            for (auto& x : config.tls_contexts) ctx_names.push_back(x.name);
            auto m = "unknown TLS context '" + l.tls_context + "'";
            if (auto s = suggest(l.tls_context, ctx_names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag.error(config.mark(at("tls_context")), at("tls_context"), m);
        } else if (ctx->revocation.ocsp != OcspCheck::off && ctx->revocation.timeout >= l.limits.handshake_timeout) {
            diag.error(config.mark(at("tls_context")), at("tls_context"),
                       "context '" + ctx->name + "' waits up to " + format_duration(ctx->revocation.timeout) +
                           " for an OCSP answer, which must fit inside this listener's handshake_timeout (" +
                           format_duration(l.limits.handshake_timeout) + ")");
        } else if (!is_outbound(l.protocol) && ctx->certificate.empty()) {
            diag.error(config.mark(at("tls_context")), at("tls_context"),
                        "context '" + ctx->name + "' has no certificate, which a listener that accepts TLS needs");
        }
        if (is_outbound(l.protocol) && !l.bind.host.empty() && !is_loopback(l.bind.host)) {
            diag.error(config.mark(at("bind")), at("bind"),
                        "a " + std::string(to_string(l.protocol)) +
                            " listener accepts plaintext, so it must bind to a loopback address");
        }
        if (is_outbound(l.protocol) && l.proxy_protocol != ProxyProtocol::off)
            diag.error(config.mark(at("proxy_protocol")), at("proxy_protocol"),
                       "a " + std::string(to_string(l.protocol)) +
                           " listener originates TLS to servers elsewhere: it sends them no PROXY header");
        if (is_outbound(l.protocol) && !l.accept_proxy_protocol.empty())
            diag.error(config.mark(at("accept_proxy_protocol")), at("accept_proxy_protocol"),
                       "a " + std::string(to_string(l.protocol)) +
                           " listener takes local plaintext only: no load balancer sits in front of it");
        for (std::size_t k = 0; k < l.accept_proxy_protocol.size(); ++k) {
            const auto& net = l.accept_proxy_protocol[k];
            if (net.prefix != 0) continue;
            const auto q = index(at("accept_proxy_protocol"), k);
            diag.warning(config.mark(q), q,
                         "'" + net.text + "' trusts every " + (net.v6 ? "IPv6" : "IPv4") +
                             " address: any client reaching this listener can claim to be anyone; name the "
                             "load balancers' addresses");
        }
        if (l.backends.empty() && l.protocol != Protocol::xmpp_server_outbound)
            diag.error(config.mark(p), at("backends"), "at least one backend is needed");
        if (l.xmpp && !is_xmpp(l.protocol))
            diag.error(config.mark(at("xmpp")), at("xmpp"),
                        "xmpp options do not apply to a " + std::string(to_string(l.protocol)) + " listener");
        if (is_xmpp(l.protocol) && l.protocol != Protocol::xmpp_server_outbound &&
            (!l.xmpp || l.xmpp->domains.empty()))
            diag.error(config.mark(p), at("xmpp.domains"), "an XMPP listener must name the domains it serves");
        if (l.xmpp && !l.xmpp->routes.empty() && l.protocol != Protocol::xmpp_server_outbound)
            diag.error(config.mark(at("xmpp.routes")), at("xmpp.routes"),
                        "routes apply only to xmpp-server-outbound listeners");
        if (const auto* ctx = config.find_tls_context(l.tls_context)) {
            const bool s2s_in = l.protocol == Protocol::xmpp_server || l.protocol == Protocol::xmpp_server_tls;
            if (s2s_in && sec.xmpp.router_to_router_secure && ctx->trust_store.empty())
                diag.error(config.mark(at("tls_context")), at("tls_context"),
                            "router_to_router_secure requires mutual TLS on " + std::string(to_string(l.protocol)) +
                                " listeners: context '" + ctx->name + "' needs a trust_store");
            if (l.protocol == Protocol::xmpp_server_outbound) {
                if (ctx->certificate.empty())
                    diag.error(config.mark(at("tls_context")), at("tls_context"),
                                "context '" + ctx->name + "' has no certificate, which ward presents to remote servers");
                if (ctx->trust_store.empty())
                    diag.error(config.mark(at("tls_context")), at("tls_context"),
                                "context '" + ctx->name + "' has no trust_store to verify remote servers with");
            }
        }
        if (l.xmpp && l.xmpp->web && l.protocol != Protocol::xmpp_web)
            diag.error(config.mark(at("xmpp.web")), at("xmpp.web"), "web options apply only to xmpp-web listeners");
        if (l.protocol == Protocol::xmpp_web && l.xmpp) {
            if (!l.xmpp->web) l.xmpp->web.emplace();
            const auto& web = *l.xmpp->web;
            if (!sec.xmpp.web_client_secure) {
                if (const auto* ctx = config.find_tls_context(l.tls_context); ctx && ctx->verify_peer == VerifyPeer::required)
                    diag.error(config.mark(at("tls_context")), at("tls_context"),
                                "web_client_secure is off, so this listener takes plain HTTP, which carries no client "
                                "certificate; context '" + ctx->name + "' requires one (verify_peer: required)");
            }
            if (web.bosh_path == web.websocket_path)
                diag.error(config.mark(at("xmpp.web.websocket_path")), at("xmpp.web.websocket_path"),
                            "is the same path as bosh_path");
        }
        if (l.protocol == Protocol::xmpp_server_outbound && (!l.xmpp || l.xmpp->routes.empty()))
            diag.error(config.mark(p), at("xmpp.routes"), "an xmpp-server-outbound listener needs routes");
        if (l.exchange && l.protocol != Protocol::exchange_egress)
            diag.error(config.mark(at("exchange")), at("exchange"),
                        "exchange options apply only to exchange-egress listeners");
        if (l.protocol == Protocol::exchange_egress) {
            if (!l.exchange)
                diag.error(config.mark(p), at("exchange"),
                            "an exchange-egress listener needs exchange: { credentials_file, ... }");
            if (const auto* ctx = config.find_tls_context(l.tls_context); ctx && ctx->trust_store.empty())
                diag.error(config.mark(at("tls_context")), at("tls_context"),
                            "context '" + ctx->name + "' has no trust_store to verify the Exchange server with");
        }
        if (l.sip && l.protocol != Protocol::sip && l.protocol != Protocol::sip_outbound)
            diag.error(config.mark(at("sip")), at("sip"),
                        "sip options do not apply to a " + std::string(to_string(l.protocol)) + " listener");
        if ((l.protocol == Protocol::sip || l.protocol == Protocol::sip_outbound) && !l.sip) {
            l.sip.emplace();
        }
        if (l.sip && (l.sip->return_bind || l.sip->advertised) && l.protocol != Protocol::sip) {
            const auto key = at(l.sip->return_bind ? "sip.return_bind" : "sip.advertised");
            diag.error(config.mark(key), key, "edge routing applies to sip listeners, which take TLS from peers");
        } else if (l.sip && l.sip->return_bind) {
            const auto key = at("sip.return_bind");
            if (!is_loopback(l.sip->return_bind->host))
                diag.error(config.mark(key), key,
                           "the return listener takes plaintext requests that ward sends into its peers' TLS "
                           "connections, so it must bind to a loopback address");
            if (l.sip->return_bind->host.empty() || l.sip->return_bind->host == "localhost")
                diag.error(config.mark(key), key, "name the loopback address (127.0.0.1 or ::1): it is written into "
                                                  "Record-Route and Path for the backend to reach");
            if (!l.sip->advertised && (l.bind.host.empty() || l.bind.host == "0.0.0.0" || l.bind.host == "::"))
                diag.error(config.mark(at("sip")), at("sip.advertised"),
                           "the listener binds to a wildcard address, so ward cannot tell peers where to reach it: set "
                           "sip.advertised to the host:port peers connect to");
        }
        for (std::size_t j = 0; j < i; ++j) {
            const auto& o = config.listeners[j];
            if (o.bind.port == 0 || l.bind.port == 0 || o.bind.port != l.bind.port) continue;
            if (binds_overlap(o.bind.host, l.bind.host)) {
                diag.error(config.mark(at("bind")), at("bind"),
                            l.bind.to_string() + " is already bound by listener '" + o.name + "' (" +
                                index("listeners", j) + ")");
            }
        }
        // A return listener is a listener too.
        if (l.sip && l.sip->return_bind && l.sip->return_bind->port != 0) {
            const auto& r = *l.sip->return_bind;
            for (std::size_t j = 0; j < config.listeners.size(); ++j) {
                const auto& o = config.listeners[j];
                const bool main_clash = o.bind.port == r.port && binds_overlap(o.bind.host, r.host);
                const bool return_clash = j < i && o.sip && o.sip->return_bind && o.sip->return_bind->port == r.port &&
                                          binds_overlap(o.sip->return_bind->host, r.host);
                if (main_clash || return_clash)
                    diag.error(config.mark(at("sip.return_bind")), at("sip.return_bind"),
                               r.to_string() + " is already bound by listener '" + o.name + "'" +
                                   (return_clash ? " (its return_bind)" : ""));
            }
        }
    }
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& l = config.listeners[i];
        if (!l.sip || !l.sip->return_bind || !names.count(l.name + "/return")) continue;
        const auto at = index("listeners", i) + ".sip.return_bind";
        diag.error(config.mark(at), at, "its return listener is named '" + l.name + "/return', which another listener uses");
    }
    if (config.metrics.enabled) {
        for (std::size_t i = 0; i < config.listeners.size(); ++i) {
            const auto& l = config.listeners[i];
            // Port 0 asks the system for a free port: it never collides.
            if (l.bind.port != 0 && l.bind.port == config.metrics.bind.port &&
                binds_overlap(l.bind.host, config.metrics.bind.host))
                diag.error(config.mark("metrics.bind"), "metrics.bind",
                            config.metrics.bind.to_string() + " is already bound by listener '" + l.name + "'");
        }
    }
    if (config.admin.enabled) {
        if (config.admin.tls_context.empty())
            diag.error(config.mark("admin"), "admin.tls_context", "the admin API needs a tls_context");
        else if (!config.find_tls_context(config.admin.tls_context))
            diag.error(config.mark("admin.tls_context"), "admin.tls_context",
                        "unknown TLS context '" + config.admin.tls_context + "'");
        if (config.admin.users_file.empty())
            diag.error(config.mark("admin"), "admin.users_file",
                        "the admin API needs a users_file (create it with 'ward admin user add')");
        if (config.admin.audit_file.empty())
            diag.error(config.mark("admin"), "admin.audit_file", "the admin API needs an audit_file");
        if (config.admin.session_lifetime < config.admin.session_timeout)
            diag.error(config.mark("admin.session_lifetime"), "admin.session_lifetime",
                        "is shorter than admin.session_timeout");
        for (const auto& l : config.listeners) {
            if (config.admin.bind.port != 0 && l.bind.port == config.admin.bind.port &&
                binds_overlap(l.bind.host, config.admin.bind.host))
                diag.error(config.mark("admin.bind"), "admin.bind",
                            config.admin.bind.to_string() + " is already bound by listener '" + l.name + "'");
        }
        if (config.metrics.enabled && config.admin.bind.port != 0 && config.metrics.bind.port == config.admin.bind.port &&
            binds_overlap(config.metrics.bind.host, config.admin.bind.host))
            diag.error(config.mark("admin.bind"), "admin.bind", config.admin.bind.to_string() + " is already bound by metrics");
    }
    check_cluster(config, diag);
}

}  // namespace ward::config
