// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/trust_sync.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "config/loader.hpp"
#include "config/values.hpp"
#include "config/writer.hpp"
#include "proxy/ops/pki.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/security_policy.hpp"
#include "tls/x509.hpp"

namespace ward::cluster {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPublished = 64 * 1024;
constexpr std::string_view kDescribed = "cluster ";
const std::string kFilePrefix = "cluster-";

struct Wanted {
    tls::UniqueX509 cert;
    std::string pem;  // as ward writes it
    std::string cn;
    std::string description;
};

std::string pem_of(X509* cert) {
    tls::UniqueBio bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The certificate a node published, held to the rules of an import; why not otherwise.
Result<Wanted> take(const std::string& published, const tls::SecurityPolicy& policy, const std::string& mode) {
    if (published.size() > kMaxPublished) return Error{"larger than 64 KiB"};
    tls::UniqueBio bio(BIO_new_mem_buf(published.data(), static_cast<int>(published.size())));
    if (!bio) return Error{"out of memory"};
    std::vector<tls::UniqueX509> certs;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(c);
    ERR_clear_error();
    if (certs.size() != 1) return Error{"holds " + std::to_string(certs.size()) + " certificates, not one"};
    X509* cert = certs[0].get();
    // A node publishes its own certificate: a CA in the store would let in whatever it signed.
    if (X509_check_ca(cert) != 0) return Error{"is a CA certificate"};
    const bool self_signed = (X509_get_extension_flags(cert) & EXFLAG_SS) != 0;
    auto as_client = policy.check_certificate(cert, tls::CertRole::client, self_signed);
    auto as_server = policy.check_certificate(cert, tls::CertRole::server, self_signed);
    if (as_client && as_server) return Error{mode + " mode refuses it: " + *as_client};
    auto match = tls::match_subject(cert, {});
    if (!match.ok) return Error{match.reason};
    // It becomes a line of the configuration and a selected subject: printable, not empty.
    const auto& cn = match.common_name;
    if (cn.empty() || cn.size() > 255 ||
        std::any_of(cn.begin(), cn.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
        return Error{"has a subject CN ward does not take (empty, too long or with control characters)"};
    Wanted w;
    w.pem = pem_of(cert);
    w.cn = match.common_name;
    w.cert = std::move(certs[0]);
    return w;
}

bool is_certificate_file(const fs::path& p) {
    const auto ext = config::lower(p.extension().string());
    return ext == ".pem" || ext == ".crt" || ext == ".cer";
}

bool contains_ignoring_case(const std::vector<std::string>& list, const std::string& s) {
    const auto want = config::lower(s);
    return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return config::lower(x) == want; });
}

void erase_ignoring_case(std::vector<std::string>& list, const std::string& s) {
    const auto want = config::lower(s);
    list.erase(std::remove_if(list.begin(), list.end(), [&](const std::string& x) { return config::lower(x) == want; }),
               list.end());
}

}  // namespace

Result<SyncReport> sync_trust(const fs::path& config_file, const std::string& store_name, const std::string& own_cluster,
                              const PublishedNodes& nodes) {
    auto loaded = config::load_file(config_file);
    if (!loaded.config) return Error{"the configuration has errors; the cluster's trust store is left as it is"};
    config::Config config = std::move(*loaded.config);
    const auto* store = config.find_trust_store(store_name);
    if (store == nullptr) return Error{"unknown trust store '" + store_name + "'"};
    const auto dir = store->dir.resolved;
    const tls::SecurityPolicy policy(config.security.mode);
    const auto mode = std::string(config::to_string(config.security.mode));

    SyncReport report;
    std::map<std::string, Wanted> wanted;  // by file name
    std::map<std::string, std::string> holders;  // lower-case CN -> who holds it
    for (const auto& s : config.tls_peer_subjects) {
        if (s.description.rfind(kDescribed, 0) != 0) holders[config::lower(s.subject)] = "the operator's tls_peer_subjects";
    }
    // This cluster's nodes first: an imported cluster cannot take a name one of them holds.
    std::vector<const PublishedNodes::value_type*> order;
    for (const auto& n : nodes)
        if (n.first.cluster == own_cluster) order.push_back(&n);
    for (const auto& n : nodes)
        if (n.first.cluster != own_cluster) order.push_back(&n);
    for (const auto* entry : order) {
        const auto& [key, published] = *entry;
        const auto who = "node '" + key.node + "' of cluster '" + key.cluster + "'";
        if (!config::is_cluster_name(key.cluster) || !config::is_cluster_name(key.node)) {
            report.refused.push_back("a node with a name ward does not take: " + who);
            report.not_trusted[key] = "a node name ward does not take";
            continue;
        }
        auto w = take(published, policy, mode);
        if (!w) {
            report.refused.push_back("the certificate of " + who + " " + w.error());
            report.not_trusted[key] = "the certificate " + w.error();
            continue;
        }
        // One holder per subject: a node may not claim another's name, or the operator's.
        const auto [held, fresh] = holders.emplace(config::lower(w->cn), who);
        if (!fresh) {
            report.refused.push_back("the certificate of " + who + " names '" + w->cn + "', which " + held->second +
                                     " already holds");
            report.not_trusted[key] = "its subject '" + w->cn + "' is held by " + held->second;
            continue;
        }
        w->description = std::string(kDescribed) + key.cluster + " node " + key.node;
        // ('@' is in no name: no two nodes share a file.)
        wanted.emplace(kFilePrefix + key.cluster + "@" + key.node + ".pem", std::move(*w));
    }

    // The folder: exactly the live nodes' certificates (it is the cluster's own: ward check
    // refuses a store shared with etcd's TLS context).
    std::set<std::string> present;
    std::error_code ec;
    // Every file the store loads (trust_store.cpp: any name not starting with '.') is ward's:
    // one it did not write could be a CA that chains whatever it signed. Refuse to go on.
    std::vector<std::string> foreign;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        if (name.rfind(kFilePrefix, 0) != 0 || !is_certificate_file(entry.path()) || entry.is_symlink() ||
            !entry.is_regular_file())
            foreign.push_back(name);
    }
    if (ec) return Error{"cannot read the folder '" + dir.string() + "': " + ec.message()};
    if (!foreign.empty()) {
        std::string list;
        for (const auto& f : foreign) list += (list.empty() ? "" : ", ") + f;
        return Error{"the folder '" + dir.string() + "' of the cluster's trust store holds files ward did not write (" +
                     list + "): move them out; nothing is changed until then"};
    }
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        auto it = wanted.find(name);
        if (it == wanted.end()) {
            fs::remove(entry.path(), ec);
            if (ec) return Error{"cannot remove '" + entry.path().string() + "': " + ec.message()};
            report.changes.push_back("removed " + entry.path().string());
            continue;
        }
        present.insert(name);
        if (read_file(entry.path()) == it->second.pem) continue;
        if (auto s = ops::write_certificate_pem(entry.path(), it->second.cert.get()); !s) return Error{s.error()};
        report.changes.push_back("replaced " + entry.path().string() + " (" + it->second.description + ")");
    }
    if (ec) return Error{"cannot read the folder '" + dir.string() + "': " + ec.message()};
    for (const auto& [name, w] : wanted) {
        if (present.count(name) != 0) continue;
        const auto target = dir / name;
        if (auto s = ops::write_certificate_pem(target, w.cert.get()); !s) return Error{s.error()};
        report.changes.push_back("stored " + target.string() + " (" + w.description + ", CN " + w.cn + ")");
    }

    // The configuration: the live nodes' subjects selected, the departed ones ward added gone.
    bool changed = false;
    std::set<std::string> live;
    for (const auto& [name, w] : wanted) {
        live.insert(config::lower(w.cn));
        if (config.find_peer_subject(w.cn) == nullptr) {
            config.tls_peer_subjects.push_back({w.cn, w.description});
            report.changes.push_back("added '" + w.cn + "' to tls_peer_subjects");
            changed = true;
        }
        for (auto& c : config.tls_contexts) {
            if (c.trust_store != store_name || contains_ignoring_case(c.peer_subjects, w.cn)) continue;
            c.peer_subjects.push_back(w.cn);
            report.changes.push_back("selected '" + w.cn + "' in TLS context '" + c.name + "'");
            changed = true;
        }
    }
    std::vector<std::string> departed;
    for (const auto& s : config.tls_peer_subjects) {
        if (s.description.rfind(kDescribed, 0) == 0 && live.count(config::lower(s.subject)) == 0)
            departed.push_back(s.subject);
    }
    for (const auto& cn : departed) {
        for (auto& c : config.tls_contexts) {
            if (c.trust_store != store_name || !contains_ignoring_case(c.peer_subjects, cn)) continue;
            erase_ignoring_case(c.peer_subjects, cn);
            report.changes.push_back("unselected '" + cn + "' in TLS context '" + c.name + "'");
            changed = true;
        }
        const bool still_selected = std::any_of(config.tls_contexts.begin(), config.tls_contexts.end(),
                                                [&](const auto& c) { return contains_ignoring_case(c.peer_subjects, cn); });
        if (still_selected) continue;  // another context (the operator's) selects it
        auto& list = config.tls_peer_subjects;
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](const auto& s) { return config::lower(s.subject) == config::lower(cn); }),
                   list.end());
        report.changes.push_back("removed '" + cn + "' from tls_peer_subjects");
        changed = true;
    }
    if (changed) {
        // What is written must load: a configuration ward cannot read again would stop every
        // later change (and the next start).
        const auto text = config::to_yaml(config);
        const auto again = config::load_string(text, config_file);
        if (!again.config) return Error{"the configuration after this change would not load; nothing was written"};
        if (auto s = config::save(config, config_file, {}); !s) return Error{s.error()};
        report.config_written = true;
        report.changes.push_back("wrote " + config_file.string());
    }
    return report;
}

}  // namespace ward::cluster
