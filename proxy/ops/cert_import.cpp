// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/cert_import.hpp"

#include <cctype>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "tls/peer_verifier.hpp"
#include "proxy/ops/pki.hpp"
#include "tls/security_policy.hpp"
#include "tls/trust_store.hpp"

namespace ward::ops {

using namespace tls;  // the TLS module's handles, readers and policy, used throughout

namespace fs = std::filesystem;

namespace {

std::string file_stem_for(const std::string& cn) {
    std::string out;
    for (char c : cn) {
        const auto u = static_cast<unsigned char>(c);
        out += (std::isalnum(u) || c == '.' || c == '-' || c == '_') ? c : '_';
    }
    if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
    if (out.size() > 100) out.resize(100);  // file names have a limit (255 bytes)
    return out;
}

bool contains_ignoring_case(const std::vector<std::string>& list, const std::string& s) {
    const auto want = config::lower(s);
    for (const auto& x : list)
        if (config::lower(x) == want) return true;
    return false;
}

}  // namespace

Result<ImportReport> import_certificate(const ImportRequest& request, config::Diagnostics& diagnostics) {
    auto loaded = config::load_file(request.config_file);
    for (const auto& d : loaded.diagnostics.all()) {
        if (d.severity == config::Severity::error) diagnostics.error(d.mark, d.path, d.message);
    }
    if (!loaded.config) return Error{"the configuration has errors; nothing was imported"};
    config::Config config = std::move(*loaded.config);

    const auto* store = config.find_trust_store(request.store);
    if (!store) {
        std::string known;
        for (const auto& t : config.trust_stores) known += (known.empty() ? "" : ", ") + t.name;
        return Error{"unknown trust store '" + request.store + "'" +
                     (known.empty() ? std::string(" (the configuration defines none)") : " (known: " + known + ")")};
    }

    auto certs = read_certificates_pem(request.certificate);
    if (!certs) return Error{certs.error()};
    if (certs->size() != 1)
        return Error{"'" + request.certificate.string() + "' holds " + std::to_string(certs->size()) +
                     " certificates; import one at a time"};
    X509* cert = (*certs)[0].get();
    const auto fingerprint = sha256_fingerprint(cert);
    const auto subject = subject_oneline(cert);
    const bool is_ca = X509_check_ca(cert) != 0;
    const bool self_signed = X509_get_extension_flags(cert) & EXFLAG_SS;

    // The security mode first: nothing is written for a certificate it forbids.
    const SecurityPolicy policy(config.security.mode);
    const auto mode = std::string(config::to_string(config.security.mode));
    if (is_ca) {
        if (auto why = policy.check_certificate(cert, CertRole::ca, self_signed))
            return Error{mode + " mode refuses " + subject + ": " + *why};
    } else {
        // A peer may present it as client or as server: one of the two usages is enough.
        auto as_client = policy.check_certificate(cert, CertRole::client, self_signed);
        auto as_server = policy.check_certificate(cert, CertRole::server, self_signed);
        if (as_client && as_server) return Error{mode + " mode refuses " + subject + ": " + *as_client};
    }

    // The subject rule peers are held to; a CA certificate is a trust anchor, not a peer.
    std::string cn;
    if (!is_ca) {
        auto match = match_subject(cert, {});
        if (!match.ok) return Error{"cannot import " + subject + ": " + match.reason};
        cn = match.common_name;
    }

    ImportReport report;
    auto contents = read_trust_store(store->dir.resolved);
    if (!contents) return Error{contents.error()};
    bool stored = false;
    for (const auto& e : contents->certificates)
        if (sha256_fingerprint(e.cert.get()) == fingerprint) stored = true;
    fs::path target;
    if (!stored) {
        const auto stem = file_stem_for(is_ca ? "ca-" + fingerprint.substr(0, 11) : cn);
        target = store->dir.resolved / (stem + ".pem");
        std::error_code exists_error;
        if (fs::exists(target, exists_error)) {
            std::string short_fp;
            for (char c : fingerprint.substr(0, 11))
                if (c != ':') short_fp += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            target = store->dir.resolved / (stem + "-" + short_fp + ".pem");
        }
    }

    bool config_changed = false;
    if (!is_ca) {
        if (!config.find_peer_subject(cn)) {
            config.tls_peer_subjects.push_back(
                {cn, request.description.empty() ? "imported from " + request.certificate.filename().string()
                                                 : request.description});
            report.changes.push_back("added '" + cn + "' to tls_peer_subjects");
            config_changed = true;
        }
        for (auto& c : config.tls_contexts) {
            if (c.trust_store != store->name || contains_ignoring_case(c.peer_subjects, cn)) continue;
            c.peer_subjects.push_back(cn);
            report.changes.push_back("selected '" + cn + "' in TLS context '" + c.name + "'");
            config_changed = true;
        }
    }

    if (request.check && !request.check(config::to_yaml(config)))
        return Error{"the configuration after this import does not pass 'ward check'; nothing was written"};

    // Certificate first, configuration second: a crash in between leaves a stored certificate
    // that nothing selects yet, and importing again completes the work.
    if (!stored) {
        if (auto s = write_certificate_pem(target, cert); !s) return Error{s.error()};
        report.changes.insert(report.changes.begin(), "stored " + subject + " (SHA-256 " + fingerprint +
                                                          ") in trust store '" + store->name + "' as " + target.string());
    }
    if (config_changed) {
        if (auto s = config::save(config, request.config_file, request.save); !s) return Error{s.error()};
        report.changes.push_back("wrote " + request.config_file.string() + " (previous version kept as " +
                                 request.config_file.string() + ".prev)");
    }
    if (report.changes.empty()) {
        report.summary = "nothing changed: " + subject + " is already in trust store '" + store->name + "'" +
                         (is_ca ? "" : " and selected in every context that uses it");
    } else {
        report.summary = std::to_string(report.changes.size()) + " change" + (report.changes.size() == 1 ? "" : "s");
        if (is_ca) report.summary += "; " + subject + " is a CA certificate, so no peer subject was added";
    }
    return report;
}

}  // namespace ward::ops
