// SPDX-License-Identifier: Apache-2.0
#include "tls/context_builder.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string_view>

#include <openssl/err.h>

#include "tls/alpn.hpp"
#include "tls/cipher_catalog.hpp"
#include "tls/ocsp.hpp"
#include "tls/flavour.hpp"
#include "tls/library.hpp"
#include "tls/openssl_error.hpp"
#include "tls/tls_counters.hpp"
#include "tls/x509.hpp"
#include "tls/ticket_keys.hpp"

namespace ward::tls {

using config::TlsVersion;

namespace {

int to_openssl(TlsVersion v) {
    switch (v) {
        case TlsVersion::tls1_0: return TLS1_VERSION;
        case TlsVersion::tls1_1: return TLS1_1_VERSION;
        case TlsVersion::tls1_2: return TLS1_2_VERSION;
        case TlsVersion::tls1_3: return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

std::string join(const std::vector<std::string>& items, char sep) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += sep;
        out += i;
    }
    return out;
}

// The session id context (RFC 5246 / OpenSSL's sid_ctx): sessions resume only under the
// context that made them, and only while every setting that decides who may connect is the
// same. A digest of the context's name, the security mode, the CRL policy, the verify mode, the
// selected subjects (as matched: ASCII case folded) and every certificate and CRL in the trust
// store, so an unchanged reload keeps resumption and any change of policy ends it.
bool session_context(const config::TlsContext& c, const PeerRules& rules, const TrustStoreContents* trusted,
                     std::array<unsigned char, 32>& out) {
    std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) return false;
    bool ok = true;
    // Each field with its length first, so no two different policies can hash alike.
    auto field = [&](const void* data, std::size_t size) {
        const std::uint64_t n = size;
        ok = ok && EVP_DigestUpdate(md.get(), &n, sizeof n) == 1 && EVP_DigestUpdate(md.get(), data, size) == 1;
    };
    auto text = [&](std::string_view s) { field(s.data(), s.size()); };
    auto der = [&](auto* object, auto encode) {
        unsigned char* bytes = nullptr;
        const int n = encode(object, &bytes);
        if (n <= 0) {
            ok = false;
            return;
        }
        field(bytes, static_cast<std::size_t>(n));
        OPENSSL_free(bytes);
    };
    text("ward session context 2");
    text(c.name);
    // What a resumed session keeps from its first handshake: its version and cipher must still
    // be allowed (OpenSSL's ticket check looks at the cipher too; wolfSSL's TLS 1.2 resumption
    // only at the client's offer).
    text(config::to_string(c.min_version));
    text(config::to_string(c.max_version));
    text("ciphers");
    for (const auto& cipher : c.ciphers) text(cipher);
    text(config::to_string(rules.policy.mode()));
    text(config::to_string(rules.crl_missing));
    text(config::to_string(rules.verify));
    std::vector<std::string> subjects;
    for (auto s : rules.subjects) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        subjects.push_back(std::move(s));
    }
    std::sort(subjects.begin(), subjects.end());
    for (const auto& s : subjects) text(s);
    text("trust");
    if (trusted) {
        for (const auto& e : trusted->certificates) der(e.cert.get(), i2d_X509);
        text("crls");
        field(trusted->crl_digest.data(), trusted->crl_digest.size());
    }
    unsigned int length = 0;
    ok = ok && EVP_DigestFinal_ex(md.get(), out.data(), &length) == 1 && length == out.size();
    return ok;
}

}  // namespace

ContextBuilder::ContextBuilder(const config::Config& config, config::Diagnostics& diagnostics)
    : config_(config), diag_(diagnostics), policy_(config.security.mode) {}

bool ContextBuilder::apply_versions_and_ciphers(SSL_CTX* ctx, const config::TlsContext& c) {
    const auto base = "tls_contexts." + c.name;
    const auto& catalog = CipherCatalog::instance();
    const auto mode = config_.security.mode;
    const bool defaults = c.ciphers.empty();
    const auto names = defaults ? CipherCatalog::defaults(mode) : c.ciphers;

    std::vector<std::string> tls12, tls13;
    std::vector<std::string> paths;  // the setting each name came from, for messages
    bool ok = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto path = defaults ? base : base + ".ciphers[" + std::to_string(i) + "]";
        const auto* info = catalog.find(names[i]);
        if (!info) {
            if (defaults) continue;  // a default the linked OpenSSL lacks: leave it out
            diag_.error(config_.mark(path), path,
                        "'" + names[i] + "' is not a TLS cipher known to " + tls_library_name());
            ok = false;
            continue;
        }
        std::string why;
        if (!CipherCatalog::allowed(*info, mode, &why)) {
            diag_.error(config_.mark(path), path,
                        "'" + names[i] + "' is not allowed in " + std::string(config::to_string(mode)) + " mode: " + why);
            ok = false;
            continue;
        }
        (info->tls13 ? tls13 : tls12).push_back(info->openssl_name);
    }
    if (!ok) return false;

    // The selection decides the versions: no TLS 1.2 cipher means no TLS 1.2 (and older), no
    // TLS 1.3 suite means no TLS 1.3. Never fall back to OpenSSL's defaults for either.
    int min_v = to_openssl(c.min_version);
    int max_v = to_openssl(c.max_version);
    if (tls12.empty() && min_v < TLS1_3_VERSION) min_v = TLS1_3_VERSION;
    if (tls13.empty() && max_v > TLS1_2_VERSION) max_v = TLS1_2_VERSION;
    if (min_v > max_v || (tls12.empty() && tls13.empty())) {
        const auto path = defaults ? base : base + ".ciphers";
        diag_.error(config_.mark(path), path,
                    "no selected cipher can be used between " + std::string(config::to_string(c.min_version)) +
                        " and " + std::string(config::to_string(c.max_version)));
        return false;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min_v) != 1 || SSL_CTX_set_max_proto_version(ctx, max_v) != 1) {
        diag_.error(config_.mark(base), base, openssl_error("cannot set the TLS versions"));
        return false;
    }

    // TLS 1.2 list: OpenSSL drops names it cannot use instead of failing, so compare what it
    // kept with what was asked, and name each one it refused.
    if (!tls12.empty()) {
        if (SSL_CTX_set_cipher_list(ctx, join(tls12, ':').c_str()) != 1) clear_openssl_errors();
        // (Read through a connection state: the context's own list has no accessor in wolfSSL,
        // whose names there are the IANA ones: compared as catalog entries.)
        std::vector<const CipherInfo*> kept;
        UniqueSsl probe(SSL_new(ctx));
        if (STACK_OF(SSL_CIPHER)* list = probe ? SSL_get_ciphers(probe.get()) : nullptr) {
            for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i)
                kept.push_back(catalog.find(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i))));
        }
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto* info = catalog.find(names[i]);
            if (!info || info->tls13) continue;
            if (std::find(kept.begin(), kept.end(), info) == kept.end()) {
                const auto path = defaults ? base : base + ".ciphers[" + std::to_string(i) + "]";
                diag_.error(config_.mark(path), path,
                            tls_library_name() + " cannot use '" + names[i] + "' here (not offered by the loaded providers)");
                ok = false;
            }
        }
    }
    if (SSL_CTX_set_ciphersuites(ctx, join(tls13, ':').c_str()) != 1) {
        // Retry one by one to name the suites OpenSSL refuses.
        clear_openssl_errors();
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto* info = catalog.find(names[i]);
            if (!info || !info->tls13) continue;
            if (SSL_CTX_set_ciphersuites(ctx, info->openssl_name.c_str()) != 1) {
                const auto path = defaults ? base : base + ".ciphers[" + std::to_string(i) + "]";
                diag_.error(config_.mark(path), path, openssl_error("OpenSSL refuses '" + names[i] + "'"));
                ok = false;
            }
        }
    }
    return ok;
}

bool ContextBuilder::apply_groups(SSL_CTX* ctx, const config::TlsContext& c) {
    const auto base = "tls_contexts." + c.name;
    const bool defaults = c.groups.empty();
    const auto groups = defaults ? policy_.default_groups() : c.groups;
    bool ok = true;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto path = defaults ? base : base + ".groups[" + std::to_string(i) + "]";
        if (auto why = policy_.check_group(groups[i])) {
            diag_.error(config_.mark(path), path, *why);
            ok = false;
        } else if (SSL_CTX_set1_groups_list(ctx, groups[i].c_str()) != 1) {
            diag_.error(config_.mark(path), path,
                        openssl_error("'" + groups[i] + "' is not a key exchange group OpenSSL can use"));
            ok = false;
        }
    }
    if (ok && SSL_CTX_set1_groups_list(ctx, join(groups, ':').c_str()) != 1) {
        diag_.error(config_.mark(base), base, openssl_error("OpenSSL refuses the group list"));
        ok = false;
    }
    return ok;
}

std::shared_ptr<const Context> ContextBuilder::build(const config::TlsContext& c) {
    const auto base = "tls_contexts." + c.name;
    const int errors_before = diag_.error_count();
    clear_openssl_errors();

    auto context = std::shared_ptr<Context>(new Context());
    context->name_ = c.name;
    context->ctx_.reset(SSL_CTX_new(TLS_method()));
    SSL_CTX* ctx = context->ctx_.get();
    if (!ctx) {
        diag_.error(config_.mark(base), base, openssl_error("cannot create an OpenSSL context"));
        return nullptr;
    }

    // Security level 2 (112 bits: RSA >= 2048, no SHA-1 signatures) everywhere; TLS 1.0 and 1.1,
    // allowed in standard mode only, do not run above level 0 in OpenSSL 3, and ward's own key
    // checks still apply then.
    SSL_CTX_set_security_level(ctx, c.min_version < TlsVersion::tls1_2 ? 0 : 2);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // Read as much as the socket has into the record buffer: one read() for a record header
    // and body, often for several records, instead of two per record.
    SSL_CTX_set_read_ahead(ctx, 1);
    // One ticket per handshake is enough for one resumption; OpenSSL's default is two.
    SSL_CTX_set_num_tickets(ctx, 1);
    // Stateless tickets carry resumption: no server-side session cache (its lock is shared by
    // every worker, and its entries would hold memory for sessions tickets already carry).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    apply_versions_and_ciphers(ctx, c);
    apply_groups(ctx, c);
    if (const auto sigalgs = policy_.sigalgs(); config::at_least_fips(policy_.mode()) &&
                                                SSL_CTX_set1_sigalgs_list(ctx, sigalgs.c_str()) != 1) {
        diag_.error(config_.mark(base), base, openssl_error("OpenSSL refuses the signature algorithms"));
    }

    // The certificate(s) the context presents; several go through an SNI table.
    std::unique_ptr<SniTable> sni;
    const std::vector<std::string> presented =
        c.certificates.size() > 1 ? c.certificates : std::vector<std::string>{c.certificate};
    if (!c.certificate.empty()) {
        if (presented.size() > 1) sni = std::make_unique<SniTable>();
        for (const auto& name : presented) {
            const auto& loaded = certificate(name);
            if (!loaded.ok) {
                if (errors_before == diag_.error_count()) {
                    // Reported once where the certificate is defined; make sure this context fails too.
                    diag_.note(config_.mark(base + ".certificate"), base + ".certificate",
                               "certificate '" + name + "' cannot be used (see above)");
                    return nullptr;
                }
                continue;
            }
            X509* leaf = sk_X509_value(loaded.chain.get(), 0);
            present(*context, c, name, loaded);
            bool ok = true;
            if (sni) {
                UniqueX509Stack chain(sk_X509_new_null());
                for (int i = 1; i < sk_X509_num(loaded.chain.get()); ++i) sk_X509_push(chain.get(), sk_X509_value(loaded.chain.get(), i));
                const auto conflict = sni->add(leaf, loaded.key.get(), chain.get());
                // (the stack held borrowed pointers: empty it before it frees them)
                while (sk_X509_num(chain.get()) > 0) sk_X509_pop(chain.get());
                if (!conflict.empty()) {
                    const auto path = base + ".certificates";
                    diag_.error(config_.mark(path), path, "certificate '" + name + "': " + conflict);
                }
            } else {
                ok = SSL_CTX_use_certificate(ctx, leaf) == 1 && SSL_CTX_use_PrivateKey(ctx, loaded.key.get()) == 1;
                for (int i = 1; ok && i < sk_X509_num(loaded.chain.get()); ++i)
                    ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(loaded.chain.get(), i)) == 1;
                ok = ok && SSL_CTX_check_private_key(ctx) == 1;
            }
            if (!ok) {
                const auto path = "certificates." + name;
                diag_.error(config_.mark(path), path,
                            openssl_error("OpenSSL refuses certificate '" + name + "' in context '" + c.name + "'"));
            }
        }
        if (sni) sni->count_into(&context_counters(c.name));
        if (sni && errors_before == diag_.error_count() && !sni->install(ctx)) {
            diag_.error(config_.mark(base + ".certificates"), base + ".certificates",
                        openssl_error("OpenSSL refuses the certificates of context '" + c.name + "'"));
        }
    }

    auto rules = std::make_unique<PeerRules>();
    rules->subjects = c.peer_subjects;
    rules->policy = policy_;
    // crl_missing is Common Criteria's policy; in the other modes a CRL in the trust store
    // revokes what it names, and an issuer without one is not an error.
    const bool common_criteria = policy_.mode() == config::SecurityMode::common_criteria;
    rules->crl_missing = common_criteria ? config_.security.crl_missing : config::CrlMissing::accept;
    rules->verify = c.verify_peer;
    // revocation.crl: require holds every issuer to a CRL, in any mode.
    if (c.revocation.crl == config::CrlCheck::require) rules->crl_missing = config::CrlMissing::reject;
    rules->context = c.name;
    rules->revocation = c.revocation;
    if (c.revocation.ocsp != config::OcspCheck::off) rules->ocsp_cache = std::make_shared<OcspCache>();
    if (!flavour::kOcsp && (c.revocation.ocsp != config::OcspCheck::off || c.ocsp.staple))
        diag_.error(config_.mark(base), base,
                    "OCSP (ocsp.staple, revocation.ocsp) is not available in this ward, built with " +
                        std::string(flavour::kName) + "; use the OpenSSL build (WARD_TLS=openssl)");

    const TrustStoreContents* trusted = nullptr;
    if (!c.trust_store.empty()) {
        const auto& store = trust_store(c.trust_store);
        if (store.ok && store.contents) {
            trusted = store.contents.get();
            for (const auto& e : store.contents->certificates) rules->trusted_der.push_back(certificate_der(e.cert.get()));
            rules->trusted_crls = !store.contents->crls.empty();
            if (c.revocation.crl == config::CrlCheck::require && store.contents->crls.empty())
                diag_.error(config_.mark(base + ".revocation.crl"), base + ".revocation.crl",
                            "CRLs are required but trust store '" + c.trust_store +
                                "' holds none, so every peer would be refused");
            auto made = make_x509_store(*store.contents);
            if (!made) {
                diag_.error(config_.mark(base + ".trust_store"), base + ".trust_store", made.error());
                return nullptr;
            }
            UniqueX509Store x509_store = std::move(*made);
            unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
            if (common_criteria) flags |= X509_V_FLAG_X509_STRICT;
            if (common_criteria || !store.contents->crls.empty() || c.revocation.crl == config::CrlCheck::require)
                flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
            X509_STORE_set_flags(x509_store.get(), flags);
            X509_STORE_set_depth(x509_store.get(), kMaxChainDepth);
            SSL_CTX_set_cert_store(ctx, x509_store.release());
            // Tell clients which issuers are trusted, so they pick the right certificate.
            STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
            for (const auto& e : store.contents->certificates)
                sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(e.cert.get())));
            SSL_CTX_set_client_CA_list(ctx, names);
        } else if (!store.ok) {
            return nullptr;
        }
    }

    int verify = SSL_VERIFY_NONE;
    switch (c.verify_peer) {
        case config::VerifyPeer::required: verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE; break;
        case config::VerifyPeer::optional: verify = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE; break;
        case config::VerifyPeer::none: break;
    }
    SSL_CTX_set_verify(ctx, verify, nullptr);
    if (!session_context(c, *rules, trusted, rules->session_context)) {
        diag_.error(config_.mark(base), base, openssl_error("cannot compute the session id context"));
        return nullptr;
    }
    context->rules_ = std::move(rules);
    context->sni_ = std::move(sni);
    install_peer_verifier(ctx, context->rules_.get());
    install_alpn_selector(ctx);
    install_ticket_keys(ctx);
    context->stapling_ = c.ocsp;
    if (!c.revocation.responder_override.empty() && !parse_http_url(c.revocation.responder_override))
        diag_.error(config_.mark(base + ".revocation.responder_override"), base + ".revocation.responder_override",
                    "'" + c.revocation.responder_override + "' is not an http:// URL ward can fetch from");
    if (c.ocsp.staple && !context->presented_.empty()) {
        context->staples_ = std::make_unique<Staples>(context->presented_.size());
        SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB,
                              reinterpret_cast<void (*)()>(&Context::on_status_request));
        SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB_ARG, 0, context.get());
    }

    clear_openssl_errors();
    if (diag_.error_count() != errors_before) return nullptr;
    return context;
}

}  // namespace ward::tls
