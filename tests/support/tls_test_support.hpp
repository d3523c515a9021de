// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared support for the TLS tests: temporary folders, a throw-away PKI, loading a YAML
// configuration into TLS contexts exactly as ward does at startup, a plain-OpenSSL "other side",
// and an in-process handshake over a BIO pair (no sockets, no ports, no sleeps).
//
// Linked into every test executable; the helpers report failures through doctest.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "config/loader.hpp"
#include "tls/flavour.hpp"
#include "tls/openssl_ptr.hpp"
#include "proxy/ops/pki.hpp"
#include "tls/tls_snapshot.hpp"

namespace ward::test {

namespace fs = std::filesystem;

// What the TLS library says where ward leaves the words to it: the alert it sends when ward's
// verify callback refuses a peer (OpenSSL: handshake_failure; wolfSSL picks bad_certificate
// for any refusal, with no hook to choose), and its own error texts. Where a test checks the
// library's words it checks them only in the flavour whose words they are (`openssl`).
struct LibraryWords {
    bool openssl;
    const char* refused_by_verifier_alert;
    const char* no_certificate_tls12_alert;  // TLS 1.3 has certificate_required in both
};
inline constexpr LibraryWords kLibrary = tls::flavour::kName == "openssl"
                                             ? LibraryWords{true, "handshake failure", "handshake failure"}
                                             : LibraryWords{false, "bad certificate", "bad certificate"};

// A fresh, uniquely named directory under the system temp dir, removed with its contents.
class TempDir {
public:
    explicit TempDir(std::string_view tag = "test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

// Writes `text` to `path`, creating parent folders; REQUIREs success.
void write_text_file(const fs::path& path, std::string_view text);

// Every queued OpenSSL error of this thread as text ("" when none); leaves the queue empty.
std::string drain_openssl_errors();

// The session ticket a client connection received ("" when none), as the server sealed it.
std::string session_ticket(SSL* ssl);

// The certificate and key files of one issued credential.
struct CertFiles {
    std::string name;  // file stem: <name>.pem, <name>.key
    fs::path cert;
    fs::path key;
};

// Which key signs a certificate issued by TestPki::issue.
enum class Signer {
    ca,            // the CA in the trust store
    untrusted_ca,  // a second CA that no trust store holds
    self,          // self-signed
};

// A throw-away PKI in `dir`:
//   ca.pem / ca.key                the trusted CA (CN "ward test CA"), also copied to trust/ca.pem
//   server.pem / server.key        CN and DNS server.test, EC P-256, serverAuth + clientAuth
//   untrusted-ca.pem / .key        a second CA, never in trust/
// Everything is EC P-256 signed with SHA-256 unless a spec says otherwise.
class TestPki {
public:
    explicit TestPki(const fs::path& dir);

    const fs::path& dir() const { return dir_; }
    fs::path trust_dir() const { return dir_ / "trust"; }
    const CertFiles& ca() const { return ca_files_; }
    const CertFiles& server() const { return server_files_; }
    const CertFiles& untrusted_ca() const { return untrusted_ca_files_; }

    // A v3 client certificate spec: CN `cn`, EC P-256, clientAuth only.
    static ops::CertSpec client_spec(const std::string& cn);

    // Issues a certificate for a fresh key as `spec` says, signed by `signer`, and writes
    // <dir>/<name>.pem (leaf only) and <dir>/<name>.key.
    CertFiles issue(const std::string& name, const ops::CertSpec& spec, Signer signer = Signer::ca);
    // The same, or nothing when the TLS library refuses to read what ward wrote (a name string
    // it will not parse): such a certificate cannot reach ward through that library either.
    std::optional<CertFiles> issue_if_readable(const std::string& name, const ops::CertSpec& spec,
                                               Signer signer = Signer::ca);

    // Copies a certificate file into the trust store folder (as <name>.pem).
    void trust(const CertFiles& files);

    // Writes trust/ca-crl.pem: a v2 CRL signed by the CA, valid now, revoking nothing (or the
    // given serials); its nextUpdate `next_update_days` from now (negative: out of date).
    fs::path write_ca_crl(const std::vector<long>& revoked_serials = {}, long next_update_days = 30);

private:
    const ops::Credential* issuer_of(Signer signer) const;
    fs::path dir_;
    ops::Credential ca_;
    ops::Credential untrusted_ca_;
    CertFiles ca_files_;
    CertFiles server_files_;
    CertFiles untrusted_ca_files_;
};

// The position of the `occurrence`-th (0-based) `needle` in `text`, as a 1-based line:column,
// the way config diagnostics report it.
config::Mark mark_of(std::string_view text, std::string_view needle, int occurrence = 0);

// A configuration loaded and built the way ward starts: load_file, activate_security_mode,
// build_tls_snapshot.
struct LoadedConfig {
    fs::path file;
    config::Config config;
    tls::TlsSnapshot snapshot;
    config::Diagnostics diagnostics;  // warnings and notes (there are no errors)

    // The built context; REQUIREs that it exists.
    const tls::Context& context(const std::string& name) const;
};

// Writes `yaml` to <dir>/<file_name>, loads and builds it; REQUIREs that there is no error and
// prints every diagnostic when there is one.
LoadedConfig load_config(const fs::path& dir, std::string_view yaml, const std::string& file_name = "ward.yaml");

// The outcome of loading and building a configuration that may be wrong.
struct ConfigCheck {
    fs::path file;
    config::Diagnostics diagnostics;    // from loading, activating and building, in that order
    bool loaded = false;                // the loader reported no error
    bool activated = false;             // activate_security_mode succeeded
    std::optional<tls::TlsSnapshot> snapshot;  // set when everything succeeded

    // The diagnostics of a severity for a setting path, formatted with config::format.
    std::vector<std::string> formatted(const std::string& path,
                                       config::Severity severity = config::Severity::error) const;
};

// Like load_config, but reports instead of asserting. Activation and building run on the
// partial configuration when loading failed, as `ward check` does, so later errors show too.
ConfigCheck check_config(const fs::path& dir, std::string_view yaml, const std::string& file_name = "ward.yaml");

// The plain-OpenSSL other side of a handshake (never ward's ContextBuilder).
struct PeerOptions {
    fs::path cert;  // PEM certificate chain to present; empty: none
    fs::path key;
    fs::path trust_ca;                        // verify the server against this CA; empty: no verification
    std::string verify_host = "server.test";  // with trust_ca: the name the server certificate must hold
    int min_version = 0;                      // TLS1_2_VERSION etc.; 0: OpenSSL's default
    int max_version = 0;
    std::optional<std::string> cipher_list;   // TLS 1.2 and older (SSL_CTX_set_cipher_list)
    std::optional<std::string> ciphersuites;  // TLS 1.3 (SSL_CTX_set_ciphersuites)
    std::optional<std::string> groups;        // SSL_CTX_set1_groups_list
    std::optional<std::string> sigalgs;       // SSL_CTX_set1_sigalgs_list
    int security_level = -1;                  // -1: OpenSSL's default
    // Library context for the SSL_CTX and everything it loads (nullptr: the default one). The
    // FIPS tests pass one with the default provider, so the peer can offer what FIPS forbids.
    OSSL_LIB_CTX* libctx = nullptr;
};

// A client SSL_CTX as described; REQUIREs that OpenSSL accepts every setting.
tls::UniqueSslCtx make_peer_ctx(const PeerOptions& options);
// The same for a server (for ward's outbound side): `cert` is required, and with `trust_ca`
// the server asks for a client certificate and verifies it (verify_host is not used).
tls::UniqueSslCtx make_peer_server_ctx(const PeerOptions& options);
// A server connection from it (accept state).
tls::UniqueSsl make_peer_server(SSL_CTX* ctx);
// A client connection from it (connect state), checking the server name when the context
// verifies the server.
tls::UniqueSsl make_peer_client(SSL_CTX* ctx, const std::string& verify_host = "server.test");

struct HandshakeResult {
    // Each side's handshake finished and the connection stayed up: the pump keeps reading on a
    // side whose SSL_do_handshake returned 1, so a TLS 1.3 client whose certificate the server
    // refuses (the client's SSL_do_handshake returns before the server has seen its
    // certificate) ends with client_ok false and the server's alert in client_alert.
    bool server_ok = false;
    bool client_ok = false;
    // Whether SSL_do_handshake itself returned 1 on the client (see above).
    bool client_handshake_returned = false;
    bool data_exchanged = false;  // when both are ok: a few bytes went each way

    std::string version;  // e.g. "TLSv1.3", when both are ok
    std::string cipher;   // OpenSSL name of the negotiated cipher, when both are ok
    std::string group;    // the key exchange group ("x25519", "secp256r1"), when both are ok
    std::string server_subject;   // the certificate the server presented, when both are ok
    std::string server_key_type;  // its key: "EC" or "RSA"
    // ServerHello messages the client received: 2 when the server sent a HelloRetryRequest
    // (TLS 1.3 carries it as a second ServerHello).
    int server_hellos = 0;

    // Server side, from ward::tls.
    std::string peer_refusal_reason;
    std::string verified_peer_subject;

    // Alerts, "fatal: handshake failure" style, in the order seen.
    std::vector<std::string> client_alerts_received;
    std::vector<std::string> server_alerts_received;
    std::vector<std::string> server_alerts_sent;
    // The description of the first fatal alert the client received ("" when none), e.g.
    // "handshake failure", "unknown CA", "protocol version".
    std::string client_alert;
    // The same for the server (e.g. when the client refused the server's certificate).
    std::string server_alert;

    // Every OpenSSL error each side queued, drained after each call.
    std::string server_errors;
    std::string client_errors;

    // Everything above, for failure messages.
    std::string describe() const;
};

// Connects `server` (accept state) and `client` (connect state) through a BIO pair and pumps
// both until each has finished or failed, in a bounded loop. Leaves the error queue empty.
HandshakeResult handshake(SSL* server, SSL* client);

// A configuration with one TLS context, "peer": the TestPki server certificate, the trust
// store in trust/, and `context_settings` (lines indented by four spaces).
std::string config_yaml(const std::string& context_settings, const std::vector<std::string>& subjects = {},
                        const std::string& security = "  mode: standard\n");

// A client that verifies the server against the test CA and presents `cert` (if any).
PeerOptions client_options(const TestPki& pki, const CertFiles* cert = nullptr);

// A handshake between `context` (ward's server side) and a plain OpenSSL client made from
// `options`; the OpenSSL error queue is checked empty after it.
HandshakeResult handshake_with(const tls::Context& context, const PeerOptions& options);

}  // namespace ward::test
