// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_snapshot.hpp"

#include "tls/fips_provider.hpp"
#include "tls/flavour.hpp"
#include "tls/library.hpp"
#include "tls/sni.hpp"
#include "tls/x509.hpp"
#include "tls/security_policy.hpp"

namespace ward::tls {

bool activate_security_mode(const config::Config& config, config::Diagnostics& diagnostics) {
    reserve_connection_slots();
    const auto& sec = config.security;
    if (!config::at_least_fips(sec.mode)) return true;
    if (!flavour::kFipsModule) {
        // Not even policy-only: these modes are claims about the module the cryptography runs in.
        diagnostics.error(config.mark("security.mode"), "security.mode",
                          std::string(config::to_string(sec.mode)) + " mode needs a FIPS module: " +
                              load_fips_provider(sec.fips_module_dir.resolved));
        return false;
    }
    if (sec.fips_provider == config::FipsProvider::policy_only) {
        diagnostics.warning(config.mark("security.fips_provider"), "security.fips_provider",
                            "policy-only: " + std::string(config::to_string(sec.mode)) +
                                " mode's algorithm rules are enforced, but cryptography runs in OpenSSL's default "
                                "provider, not a FIPS 140 module");
        return true;
    }
    const auto path = config.mark("security.fips_module_dir").line > 0 ? "security.fips_module_dir" : "security.mode";
    if (!fips_provider_active()) {
        if (auto error = load_fips_provider(sec.fips_module_dir.resolved); !error.empty()) {
            diagnostics.error(config.mark(path), path,
                              std::string(config::to_string(sec.mode)) + " mode needs the OpenSSL FIPS provider: " + error);
            return false;
        }
    }
    // Which provider it is, and whether its version is a validated one.
    const auto info = fips_provider_info();
    auto described = (info.name.empty() ? std::string("the FIPS provider") : info.name) + " " + info.version;
    if (!info.build_info.empty() && info.build_info != info.version) described += " (build " + info.build_info + ")";
    if (const auto validation = fips_validation(info.version); !validation.empty()) {
        diagnostics.note(config.mark(path), path,
                         described + ": a validated version (" + validation +
                             "), provided it was built as its security policy says");
    } else {
        diagnostics.warning(config.mark(path), path,
                            described + ": not a validated version (3.0.8 and 3.0.9 under FIPS 140-2 certificate "
                                        "#4282, 3.1.2 under FIPS 140-3 certificate #4985); good for testing, not for "
                                        "a FIPS 140 claim");
    }
    return true;
}

std::optional<TlsSnapshot> build_tls_snapshot(const config::Config& config, config::Diagnostics& diagnostics) {
    const int errors_before = diagnostics.error_count();
    TlsSnapshot snapshot;
    ContextBuilder builder(config, diagnostics);
    for (const auto& c : config.tls_contexts) {
        if (auto built = builder.build(c)) snapshot.contexts[c.name] = std::move(built);
    }

    // Roles: a context's certificate is presented as server by inbound listeners and as client
    // by outbound ones; common-criteria demands the matching extended key usage.
    const SecurityPolicy policy(config.security.mode);
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& l = config.listeners[i];
        const auto* ctx = snapshot.find(l.tls_context);
        const auto* c = config.find_tls_context(l.tls_context);
        if (!ctx || !c || c->certificate.empty()) continue;
        X509* cert = SSL_CTX_get0_certificate(ctx->native());
        if (!cert) continue;
        const auto role = config::is_outbound(l.protocol) ? CertRole::client : CertRole::server;
        if (auto why = policy.check_certificate(cert, role)) {
            const auto path = "listeners[" + std::to_string(i) + "].tls_context";
            diagnostics.error(config.mark(path), path,
                              std::string(config::to_string(config.security.mode)) + " mode refuses certificate '" +
                                  c->certificate + "' (" + subject_oneline(cert) + ") as " +
                                  (role == CertRole::server ? "a server" : "a client") + " certificate: " + *why);
        }
        // Each XMPP domain needs a certificate that names it: s2s peers check it (RFC 6120
        // section 13.7.2, RFC 7590), and so do careful clients.
        if (l.xmpp) {
            for (std::size_t k = 0; k < l.xmpp->domains.size(); ++k) {
                const auto& domain = l.xmpp->domains[k];
                bool covered = false;
                for (const auto& p : ctx->presented())
                    if (names_cover(certificate_dns_names(p.leaf.get()), domain)) covered = true;
                if (!covered) {
                    const auto path = "listeners[" + std::to_string(i) + "].xmpp.domains[" + std::to_string(k) + "]";
                    diagnostics.warning(config.mark(path), path,
                                        "no certificate of context '" + c->name + "' names '" + domain +
                                            "': servers and clients checking the domain will refuse it");
                }
            }
        }
        if (l.protocol == config::Protocol::sip || l.protocol == config::Protocol::tls) {
            if (c->verify_peer != config::VerifyPeer::none && c->peer_subjects.empty())
                diagnostics.warning(config.mark("tls_contexts." + c->name), "tls_contexts." + c->name,
                                    "no peer subjects are selected: any certificate that chains to trust store '" +
                                        c->trust_store + "' is accepted");
        }
    }
    if (diagnostics.error_count() != errors_before) return std::nullopt;
    snapshot.expiries = builder.expiries();
    return snapshot;
}

}  // namespace ward::tls
