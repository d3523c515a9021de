// SPDX-License-Identifier: Apache-2.0
// What a context presents and trusts, read once per build: certificates with their keys (validity,
// the mode's rules, expiry warnings), trust stores (the mode's rules, out-of-date CRLs), what OCSP
// stapling needs of each presented certificate, and the expiry of everything read.
#include "tls/context_builder.hpp"

#include <cstdint>
#include <ctime>
#include <optional>

#include "tls/ocsp.hpp"
#include "tls/openssl_error.hpp"
#include "tls/tls_snapshot.hpp"
#include "tls/x509.hpp"

namespace ward::tls {

namespace {

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

}  // namespace

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
