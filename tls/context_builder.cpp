// SPDX-License-Identifier: Apache-2.0
#include "tls/context_builder.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string_view>

#include <openssl/err.h>

#include "tls/alpn.hpp"
#include "tls/cipher_catalog.hpp"
#include "tls/ocsp.hpp"
#include "tls/openssl_error.hpp"
#include "tls/tls_counters.hpp"
#include "tls/tls_snapshot.hpp"
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

std::string subject_of(X509* cert) { return subject_oneline(cert); }

// A certificate's notAfter in Unix seconds (0 when unreadable).
std::int64_t not_after_seconds(X509* cert) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

// Certificates ward presents that expire this soon are reported by `ward check` and on reload.
constexpr std::int64_t kExpiryWarningDays = 30;

// Validity: an own certificate outside its validity period is a configuration error.
std::optional<std::string> validity_problem(X509* cert) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) return "it has expired";
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) return "it is not valid yet";
    return std::nullopt;
}

// The session id context (RFC 5246 / OpenSSL's sid_ctx): sessions resume only under the
// context that made them, and only while every setting that decides who may connect is the
// same. A digest of the context's name, the security mode, the CRL policy, the verify mode, the
// selected subjects (as matched: ASCII case folded) and every certificate and CRL in the trust
// store, so an unchanged reload keeps resumption and any change of policy ends it.
bool session_context(const std::string& name, const PeerRules& rules, const TrustStoreContents* trusted,
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
    text("ward session context 1");
    text(name);
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
        for (const auto& crl : trusted->crls) der(crl.get(), i2d_X509_CRL);
    }
    unsigned int length = 0;
    ok = ok && EVP_DigestFinal_ex(md.get(), out.data(), &length) == 1 && length == out.size();
    return ok;
}

}  // namespace

UniqueSsl Context::new_server() const {
    UniqueSsl ssl(SSL_new(ctx_.get()));
    if (ssl) SSL_set_accept_state(ssl.get());
    return ssl;
}

void Staples::set(std::size_t i, std::shared_ptr<const std::string> der, std::int64_t valid_until) {
    std::lock_guard lock(mutex_);
    if (i < responses_.size()) responses_[i] = {std::move(der), valid_until};
}

std::shared_ptr<const std::string> Staples::get(std::size_t i, std::int64_t now) const {
    std::lock_guard lock(mutex_);
    if (i >= responses_.size() || responses_[i].valid_until <= now) return nullptr;
    return responses_[i].der;
}

// The server's status_request callback: the response for the certificate OpenSSL chose (after
// SNI and key type), when the stapler has one.
int Context::on_status_request(SSL* ssl, void* arg) {
    const auto* context = static_cast<const Context*>(arg);
    X509* chosen = SSL_get_certificate(ssl);
    if (!chosen || !context->staples_) return SSL_TLSEXT_ERR_NOACK;
    for (std::size_t i = 0; i < context->presented_.size(); ++i) {
        if (context->presented_[i].leaf.get() != chosen) continue;
        auto der = context->staples_->get(i, static_cast<std::int64_t>(std::time(nullptr)));
        if (!der || der->empty()) return SSL_TLSEXT_ERR_NOACK;
        auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der->size()));
        if (!copy) return SSL_TLSEXT_ERR_NOACK;
        std::memcpy(copy, der->data(), der->size());
        // (SSL_set_tlsext_status_ocsp_resp, without the macro's C cast; OpenSSL frees `copy`.)
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, static_cast<long>(der->size()), copy);
        context_counters(context->name_).count(StapleEvent::stapled);
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

UniqueSsl Context::new_client(const std::string& server_name, const std::string& local_name) const {
    UniqueSsl ssl(SSL_new(ctx_.get()));
    if (!ssl) return ssl;
    SSL_set_connect_state(ssl.get());
    if (sni_ && !local_name.empty() && sni_->covers(local_name) && !sni_->use_group(ssl.get(), sni_->select(local_name))) {
        clear_openssl_errors();
        return nullptr;
    }
    SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
    if (!server_name.empty())  // SSL_set_tlsext_host_name, without the macro's C cast
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(server_name.c_str()));
    return ssl;
}

ContextBuilder::ContextBuilder(const config::Config& config, config::Diagnostics& diagnostics)
    : config_(config), diag_(diagnostics), policy_(config.security.mode) {}

const ContextBuilder::LoadedCertificate& ContextBuilder::certificate(const std::string& name) {
    if (auto it = certificates_.find(name); it != certificates_.end()) return it->second;
    auto& out = certificates_[name];
    const auto* c = config_.find_certificate(name);
    if (!c) return out;  // reported by the loader
    const auto cert_path = "certificates." + name + ".cert";
    const auto key_path = "certificates." + name + ".key";

    auto certs = read_certificates_pem(c->cert.resolved);
    if (!certs) {
        diag_.error(config_.mark(cert_path), cert_path, certs.error());
        return out;
    }
    if (certs->empty()) {
        diag_.error(config_.mark(cert_path), cert_path, "'" + c->cert.resolved.string() + "' holds no certificate");
        return out;
    }
    bool ok = true;
    for (std::size_t i = 0; i < certs->size(); ++i) {
        X509* x = (*certs)[i].get();
        const bool anchor = i + 1 == certs->size() && i > 0 && (X509_get_extension_flags(x) & EXFLAG_SS);
        // The leaf's extended key usage is checked per listener, where its role is known.
        if (i == 0) {
            if (auto why = validity_problem(x)) {
                diag_.error(config_.mark(cert_path), cert_path,
                            "certificate " + subject_of(x) + " in '" + c->cert.resolved.string() + "': " + *why);
                ok = false;
            } else if (const auto left = not_after_seconds(x) - static_cast<std::int64_t>(std::time(nullptr));
                       left < kExpiryWarningDays * 86400) {
                diag_.warning(config_.mark(cert_path), cert_path,
                              "certificate " + subject_of(x) + " in '" + c->cert.resolved.string() + "' expires in " +
                                  std::to_string(left / 86400) + " day" + (left / 86400 == 1 ? "" : "s") +
                                  ": renew it");
            }
        }
        const auto why = policy_.check_certificate(x, i == 0 ? CertRole::end_entity : CertRole::ca, anchor);
        if (why) {
            diag_.error(config_.mark(cert_path), cert_path,
                        std::string(config::to_string(policy_.mode())) + " mode refuses certificate " + subject_of(x) +
                            " in '" + c->cert.resolved.string() + "': " + *why);
            ok = false;
        }
    }
    auto key = read_private_key_pem(c->key.resolved);
    if (!key) {
        diag_.error(config_.mark(key_path), key_path, key.error());
        return out;
    }
    if (X509_check_private_key((*certs)[0].get(), key->get()) != 1) {
        clear_openssl_errors();
        diag_.error(config_.mark(key_path), key_path,
                    "key '" + c->key.resolved.string() + "' does not match certificate '" +
                        c->cert.resolved.string() + "' (" + subject_of((*certs)[0].get()) + ")");
        return out;
    }
    if (!ok) return out;
    out.chain.reset(sk_X509_new_null());
    for (auto& x : *certs) sk_X509_push(out.chain.get(), x.release());
    out.key = std::move(key.value());
    out.ok = true;
    return out;
}

const ContextBuilder::LoadedTrustStore& ContextBuilder::trust_store(const std::string& name) {
    if (auto it = trust_stores_.find(name); it != trust_stores_.end()) return it->second;
    auto& out = trust_stores_[name];
    const auto* t = config_.find_trust_store(name);
    if (!t) return out;
    const auto path = "trust_stores." + name + ".dir";
    auto contents = read_trust_store(t->dir.resolved);
    if (!contents) {
        diag_.error(config_.mark(path), path, contents.error());
        return out;
    }
    bool ok = true;
    for (const auto& problem : contents->problems) {
        diag_.error(config_.mark(path), path, problem);
        ok = false;
    }
    if (contents->certificates.empty() && ok)
        diag_.warning(config_.mark(path), path,
                      "trust store '" + name + "' holds no certificate, so no peer can be verified against it");
    for (const auto& e : contents->certificates) {
        const bool self_signed = X509_get_extension_flags(e.cert.get()) & EXFLAG_SS;
        // A trust store holds CAs and self-signed peers: only key and signature rules apply to
        // peers that are their own anchor.
        const auto role = (X509_check_ca(e.cert.get()) != 0) ? CertRole::ca : CertRole::end_entity;
        const auto why = policy_.check_certificate(e.cert.get(), role, self_signed);
        if (why) {
            diag_.error(config_.mark(path), path,
                        std::string(config::to_string(policy_.mode())) + " mode refuses certificate " +
                            subject_of(e.cert.get()) + " in '" + e.file.string() + "': " + *why);
            ok = false;
        }
    }
    for (std::size_t i = 0; i < contents->crls.size(); ++i) {
        X509_CRL* crl = contents->crls[i].get();
        const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
        if (next && X509_cmp_current_time(next) < 0) {
            // OpenSSL refuses every certificate of that issuer while its CRL is out of date.
            diag_.error(config_.mark(path), path,
                        "the CRL of " + name_oneline(X509_CRL_get_issuer(crl)) + " in '" + contents->crl_files[i].string() +
                            "' is out of date (nextUpdate has passed): every certificate of that issuer would be "
                            "refused; put the issuer's current CRL there");
            ok = false;
        }
    }
    clear_openssl_errors();
    out.contents = std::make_shared<TrustStoreContents>(std::move(contents.value()));
    out.ok = ok;
    return out;
}

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
                        "'" + names[i] + "' is not a TLS cipher known to OpenSSL " + OPENSSL_VERSION_STR);
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
        std::vector<std::string> kept;
        if (STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx)) {
            for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) kept.emplace_back(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i)));
        }
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto* info = catalog.find(names[i]);
            if (!info || info->tls13) continue;
            if (std::find(kept.begin(), kept.end(), info->openssl_name) == kept.end()) {
                const auto path = defaults ? base : base + ".ciphers[" + std::to_string(i) + "]";
                diag_.error(config_.mark(path), path,
                            "OpenSSL cannot use '" + names[i] + "' here (not offered by the loaded providers)");
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

void ContextBuilder::present(Context& context, const config::TlsContext& c, const std::string& name,
                             const LoadedCertificate& loaded) {
    PresentedCertificate p;
    p.name = name;
    X509* leaf = sk_X509_value(loaded.chain.get(), 0);
    X509_up_ref(leaf);
    p.leaf.reset(leaf);
    if (sk_X509_num(loaded.chain.get()) > 1) {
        X509* issuer = sk_X509_value(loaded.chain.get(), 1);
        X509_up_ref(issuer);
        p.issuer.reset(issuer);
    }
    p.must_staple = must_staple(leaf);
    p.responder = c.ocsp.responder_override.empty() ? ocsp_responder(leaf) : c.ocsp.responder_override;
    const auto base = "tls_contexts." + c.name;
    const auto cert_path = "certificates." + name + ".cert";
    if (p.must_staple && !c.ocsp.staple) {
        diag_.error(config_.mark(base), base,
                    "certificate '" + name + "' (" + subject_of(leaf) +
                        ") is must-staple (RFC 7633): clients refuse it without a stapled OCSP response; set "
                        "ocsp.staple: true");
    }
    if (c.ocsp.staple) {
        if (p.responder.empty())
            diag_.error(config_.mark(base + ".ocsp"), base + ".ocsp",
                        "certificate '" + name + "' names no OCSP responder: set ocsp.responder_override");
        else if (!parse_http_url(p.responder))
            diag_.error(config_.mark(base + ".ocsp"), base + ".ocsp",
                        "certificate '" + name + "': OCSP responder '" + p.responder +
                            "' is not an http:// URL ward can fetch from");
        if (!p.issuer)
            diag_.error(config_.mark(cert_path), cert_path,
                        "OCSP stapling needs the issuer's certificate after the leaf in this file (a request names "
                        "the issuer's key)");
        else if (X509_check_issued(p.issuer.get(), p.leaf.get()) != X509_V_OK)
            diag_.error(config_.mark(cert_path), cert_path,
                        "OCSP stapling needs the issuer's certificate after the leaf in this file, but " +
                            subject_of(p.issuer.get()) + " did not issue " + subject_of(p.leaf.get()));
    }
    context.presented_.push_back(std::move(p));
}

std::shared_ptr<const Context> ContextBuilder::build(const config::TlsContext& c) {
    const auto base = "tls_contexts." + c.name;
    const int errors_before = diag_.error_count();
    clear_openssl_errors();

    auto context = std::shared_ptr<Context>(new Context());
    context->name_ = c.name;
    context->ctx_.reset(SSL_CTX_new_ex(nullptr, nullptr, TLS_method()));
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

    const TrustStoreContents* trusted = nullptr;
    if (!c.trust_store.empty()) {
        const auto& store = trust_store(c.trust_store);
        if (store.ok && store.contents) {
            trusted = store.contents.get();
            if (c.revocation.crl == config::CrlCheck::require && store.contents->crls.empty())
                diag_.error(config_.mark(base + ".revocation.crl"), base + ".revocation.crl",
                            "CRLs are required but trust store '" + c.trust_store +
                                "' holds none, so every peer would be refused");
            UniqueX509Store x509_store = make_x509_store(*store.contents);
            unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
            if (common_criteria) flags |= X509_V_FLAG_X509_STRICT;
            if (common_criteria || !store.contents->crls.empty() || c.revocation.crl == config::CrlCheck::require)
                flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
            X509_STORE_set_flags(x509_store.get(), flags);
            X509_STORE_set_depth(x509_store.get(), 8);
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
    if (!session_context(c.name, *rules, trusted, rules->session_context)) {
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

std::vector<CertificateExpiry> ContextBuilder::expiries() const {
    std::vector<CertificateExpiry> out;
    for (const auto& [name, loaded] : certificates_) {
        if (!loaded.ok || !loaded.chain || sk_X509_num(loaded.chain.get()) == 0) continue;
        X509* leaf = sk_X509_value(loaded.chain.get(), 0);
        out.push_back({name, subject_of(leaf), not_after_seconds(leaf), true});
    }
    for (const auto& [name, loaded] : trust_stores_) {
        if (!loaded.ok || !loaded.contents) continue;
        for (const auto& entry : loaded.contents->certificates)
            out.push_back({"trust:" + name + "/" + entry.file.filename().string(), subject_of(entry.cert.get()),
                           not_after_seconds(entry.cert.get()), false});
    }
    return out;
}

}  // namespace ward::tls
