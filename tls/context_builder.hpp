// SPDX-License-Identifier: Apache-2.0
#pragma once
// Turns a configured TLS context into an OpenSSL SSL_CTX: certificate chain and key, versions,
// ciphers, groups, signature algorithms, trust store and peer verification, all under the
// security mode's rules. Every problem is reported with the file:line:col of the setting.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/sni.hpp"
#include "tls/trust_store.hpp"

namespace ward::tls {

// A certificate a context presents, as OCSP stapling needs it.
struct PresentedCertificate {
    std::string name;     // in `certificates`
    UniqueX509 leaf;
    UniqueX509 issuer;    // the next certificate of its file; null when the file holds only the leaf
    std::string responder;  // where its OCSP status is fetched (override, else AIA); "" none
    bool must_staple = false;
};

// The OCSP responses stapled for a context's certificates (index as in presented()): written by
// the engine's stapler, read by handshakes on any worker.
class Staples {
public:
    explicit Staples(std::size_t n) : responses_(n) {}
    // `valid_until` (Unix seconds): past it the response is not stapled, whatever the stapler does.
    void set(std::size_t i, std::shared_ptr<const std::string> der, std::int64_t valid_until);
    std::shared_ptr<const std::string> get(std::size_t i, std::int64_t now) const;

private:
    struct Response {
        std::shared_ptr<const std::string> der;
        std::int64_t valid_until = 0;
    };
    mutable std::mutex mutex_;
    std::vector<Response> responses_;
};

// A built context. Immutable and shared by every connection that uses it; an SSL made from it
// must not outlive it.
class Context {
public:
    const std::string& name() const { return name_; }
    SSL_CTX* native() const { return ctx_.get(); }
    const PeerRules& rules() const { return *rules_; }
    const config::OcspStapling& stapling() const { return stapling_; }
    const std::vector<PresentedCertificate>& presented() const { return presented_; }
    // Stapled responses (null when the context does not staple).
    Staples* staples() const { return staples_.get(); }

    // A new server-side connection state (verification as configured).
    UniqueSsl new_server() const;
    // A new client-side connection state: the server's chain and subject are always verified;
    // `server_name` goes into SNI when not empty. `local_name`: the name ward speaks for (an s2s
    // stream's `from`); with several certificates, the one naming it is presented.
    UniqueSsl new_client(const std::string& server_name = {}, const std::string& local_name = {}) const;

private:
    friend class ContextBuilder;
    static int on_status_request(SSL* ssl, void* arg);
    std::string name_;
    std::unique_ptr<SniTable> sni_;  // before ctx_: its callback points here
    std::vector<PresentedCertificate> presented_;
    config::OcspStapling stapling_;
    std::unique_ptr<Staples> staples_;  // before ctx_, for the same reason
    UniqueSslCtx ctx_;
    std::unique_ptr<PeerRules> rules_;
};

struct CertificateExpiry;  // tls/tls_snapshot.hpp

class ContextBuilder {
public:
    ContextBuilder(const config::Config& config, config::Diagnostics& diagnostics);

    // Builds one context, reporting every problem; nullptr when there was any.
    std::shared_ptr<const Context> build(const config::TlsContext& context);
    // The expiry of every certificate and trust store the built contexts loaded.
    std::vector<CertificateExpiry> expiries() const;

private:
    struct LoadedCertificate {
        bool ok = false;
        UniqueX509Stack chain;  // leaf first
        UniquePkey key;
    };
    struct LoadedTrustStore {
        bool ok = false;
        std::shared_ptr<TrustStoreContents> contents;
    };

    const LoadedCertificate& certificate(const std::string& name);
    const LoadedTrustStore& trust_store(const std::string& name);
    void present(Context& context, const config::TlsContext& c, const std::string& name,
                 const LoadedCertificate& loaded);
    bool apply_versions_and_ciphers(SSL_CTX* ctx, const config::TlsContext& c);
    bool apply_groups(SSL_CTX* ctx, const config::TlsContext& c);

    const config::Config& config_;
    config::Diagnostics& diag_;
    SecurityPolicy policy_;
    std::map<std::string, LoadedCertificate> certificates_;
    std::map<std::string, LoadedTrustStore> trust_stores_;
};

}  // namespace ward::tls
