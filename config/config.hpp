// SPDX-License-Identifier: Apache-2.0
#pragma once
// ward's configuration model: typed, validated, immutable once loaded. Defaults are the secure
// ones. DESIGN.md section 1 maps each setting to the admin guide it comes from.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/diagnostics.hpp"

namespace ward::config {

using Duration = std::chrono::milliseconds;

// A file or folder named in the configuration: as written (kept for writing the file back)
// and resolved against the configuration file's folder.
struct FilePath {
    std::string written;
    std::filesystem::path resolved;
    bool empty() const { return written.empty(); }
    bool operator==(const FilePath&) const = default;
};

// host:port, IPv4, IPv6 written [v6]:port, or a host name (backends and routes only).
struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
    bool operator==(const Endpoint&) const = default;
};

// An address block: a.b.c.d/len, v6/len, or one address (all its bits).
struct Network {
    std::string text;  // as written
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // network order, the bits past the prefix zero
    unsigned prefix = 0;
    // Whether an address (4 or 16 bytes, network order) lies in it; an IPv4-mapped IPv6
    // address is its IPv4 address.
    bool contains(bool address_v6, const std::uint8_t* address) const;
    bool operator==(const Network&) const = default;
};

// What a listener writes first on every backend connection.
enum class ProxyProtocol { off, v2 };

enum class SecurityMode { standard, fips, enhanced, common_criteria };
enum class FipsProvider { required, policy_only };
enum class CrlMissing { reject, accept };
// How a peer certificate's revocation is looked up by OCSP: not at all, when a responder answers
// (a responder that does not answer lets the peer in, and is counted), or always (no good answer
// from the responder: refused).
enum class OcspCheck { off, prefer, require };
// CRLs: used when the trust store holds one for the issuer, or required for every issuer.
enum class CrlCheck { if_present, require };
enum class VerifyPeer { required, optional, none };
// TLS 1.0 and 1.1 are accepted in standard mode only, for legacy peers; never by default.
enum class TlsVersion { tls1_0, tls1_1, tls1_2, tls1_3 };
enum class LogLevel { trace, debug, info, warn, error };

enum class Protocol {
    tls,                   // plain TLS termination in front of any TCP backend
    tls_outbound,          // plaintext in on loopback, TLS originated to the backend
    sip,                   // SIP over TLS, inbound
    sip_outbound,          // plaintext SIP in on loopback, TLS originated
    xmpp_client,           // c2s, STARTTLS
    xmpp_client_tls,       // c2s, Direct TLS
    xmpp_server,           // s2s, STARTTLS
    xmpp_server_tls,       // s2s, Direct TLS
    xmpp_server_outbound,  // plaintext s2s in from the local backend, ward originates
    xmpp_web,              // BOSH / WebSocket
    exchange_egress,       // plain HTTP in on loopback, HTTPS to Exchange (EWS) with NTLMv2 or Basic
    sip_return,            // made by ward from a sip listener's sip.return_bind, never configured
};

// How the Exchange egress authenticates (the seed's "FIPS Mode Exchange Server Authentication").
enum class ExchangeAuth {
    automatic,   // "auto": NTLMv2 when the server offers NTLM, Basic when it does not or refuses it
    basic_only,  // Basic, even when the server offers NTLM
};

std::string_view to_string(SecurityMode);
std::string_view to_string(FipsProvider);
std::string_view to_string(CrlMissing);
std::string_view to_string(OcspCheck);
std::string_view to_string(CrlCheck);
std::string_view to_string(VerifyPeer);
std::string_view to_string(TlsVersion);
std::string_view to_string(LogLevel);
std::string_view to_string(Protocol);
std::string_view to_string(ExchangeAuth);
std::string_view to_string(ProxyProtocol);

bool is_outbound(Protocol);  // ward originates TLS; accepts plaintext on loopback
bool is_xmpp(Protocol);

// At least as strict as fips: fips, enhanced, common-criteria.
inline bool at_least_fips(SecurityMode m) { return m != SecurityMode::standard; }

struct Node {
    std::string name = "ward";
    FilePath banner_file;
    bool operator==(const Node&) const = default;
};

struct XmppSecurity {
    bool client_to_node_secure = true;
    bool router_to_router_secure = true;
    bool web_client_secure = true;
    bool operator==(const XmppSecurity&) const = default;
};

// Where deploy/fips/build-provider.sh installs fips.so and fipsmodule.cnf.
inline constexpr const char* kDefaultFipsModuleDir = "/usr/local/lib/ward/fips";

struct Security {
    SecurityMode mode = SecurityMode::standard;
    FipsProvider fips_provider = FipsProvider::required;
    FilePath fips_module_dir{kDefaultFipsModuleDir, kDefaultFipsModuleDir};
    // Common Criteria: what to do with a peer whose issuer has no CRL in the trust store.
    CrlMissing crl_missing = CrlMissing::reject;
    XmppSecurity xmpp;
    bool operator==(const Security&) const = default;
};

struct Certificate {
    std::string name;
    FilePath cert;  // PEM: the certificate, then its chain
    FilePath key;   // PEM private key
    bool operator==(const Certificate&) const = default;
};

struct TrustStore {
    std::string name;
    FilePath dir;  // folder of PEM files: CA or self-signed peer certificates, and CRLs
    bool operator==(const TrustStore&) const = default;
};

struct PeerSubject {
    std::string subject;  // certificate subject CN
    std::string description;
    bool operator==(const PeerSubject&) const = default;
};

// OCSP stapling of the certificates a context presents (RFC 6066 status_request).
struct OcspStapling {
    bool staple = false;
    std::string responder_override;  // http://host[:port]/path; empty: the certificate's AIA
    Duration refresh = std::chrono::hours(1);  // at most this long between fetches
    bool operator==(const OcspStapling&) const = default;
};

// Revocation checks of peers' certificates.
struct Revocation {
    CrlCheck crl = CrlCheck::if_present;
    OcspCheck ocsp = OcspCheck::off;
    std::string responder_override;  // http://host[:port]/path; empty: the certificate's AIA
    Duration timeout = std::chrono::seconds(3);  // one OCSP request, inside the handshake deadline
    Duration cache = std::chrono::minutes(10);   // an answer is reused this long (never past nextUpdate)
    bool operator==(const Revocation&) const = default;
};

struct TlsContext {
    std::string name;
    std::string certificate;                 // name in `certificates`
    // Several certificates, chosen per connection by the ClientHello's SNI (DNS names, exact
    // then wildcard) and by key type; the first, and those naming what it names, serve clients
    // without SNI or with a name none holds. The checks set `certificate` to the first.
    std::vector<std::string> certificates;
    std::string trust_store;                 // name in `trust_stores` (empty: none)
    std::vector<std::string> peer_subjects;  // selected subjects from `tls_peer_subjects`
    VerifyPeer verify_peer = VerifyPeer::required;
    std::vector<std::string> ciphers;  // TLS 1.2 ciphers and TLS 1.3 suites; empty: mode default
    TlsVersion min_version = TlsVersion::tls1_2;
    TlsVersion max_version = TlsVersion::tls1_3;
    std::vector<std::string> groups;  // empty: mode default
    OcspStapling ocsp;
    Revocation revocation;
    bool operator==(const TlsContext&) const = default;
};

// Per source address, per listener (0: off). Off by default: clients behind one NAT or VPN
// address would share them; set them on listeners whose clients each have their own address,
// and behind a load balancer with accept_proxy_protocol (the limits then count the clients).
struct PerSourceLimits {
    std::uint32_t connections = 0;            // held at once
    std::uint32_t handshakes_per_second = 0;  // new connections, with one second's burst
    bool operator==(const PerSourceLimits&) const = default;
};

struct Limits {
    std::uint32_t max_connections = 10000;
    // Connections accepted that have not finished negotiating (TLS, the protocol's opening):
    // past it new ones are closed at once, per listener. Bounds what a handshake flood costs.
    std::uint32_t max_handshakes_in_flight = 4096;
    PerSourceLimits per_source;
    Duration handshake_timeout = std::chrono::seconds(10);
    Duration connect_timeout = std::chrono::seconds(5);
    Duration idle_timeout = std::chrono::minutes(5);
    Duration drain_timeout = std::chrono::seconds(30);
    std::uint32_t buffer_size = 16 * 1024;
    bool operator==(const Limits&) const = default;
};

// xmpp-server-outbound: where a remote domain's server is, and how TLS starts there.
struct XmppRoute {
    Endpoint address;
    bool direct_tls = false;  // XEP-0368 Direct TLS; otherwise STARTTLS (RFC 6120 section 5)
    bool operator==(const XmppRoute&) const = default;
};

// xmpp-web: what the web listener serves and how much it takes (proxy/fronts/web/).
struct XmppWebOptions {
    std::string bosh_path = "/http-bind";          // XEP-0124/0206, POSTed <body/> elements
    std::string websocket_path = "/xmpp-websocket";  // RFC 7395
    // Origins (scheme://host[:port]) whose pages may open a WebSocket; empty: the listener's
    // own host only (Origin's host equal to the request's Host).
    std::vector<std::string> allowed_origins;
    std::uint32_t max_header_size = 16 * 1024;     // a request's header block
    std::uint32_t max_body_size = 128 * 1024;      // a request's body (a BOSH payload)
    std::uint32_t max_response_size = 1024 * 1024;  // a backend's response body
    std::uint32_t max_message_size = 128 * 1024;   // one WebSocket message, either way
    Duration request_timeout = std::chrono::seconds(30);  // one request, header and body
    // The longest BOSH `wait` a backend may hold a request for (prosody's bosh_max_wait); a long
    // poll may take the session's wait (or this, when ward did not see the session start) plus
    // a margin before ward answers 504.
    Duration bosh_max_wait = std::chrono::seconds(120);
    bool operator==(const XmppWebOptions&) const = default;
};

struct XmppListenerOptions {
    std::vector<std::string> domains;
    // xmpp-server-outbound: remote domain -> route. Written `domain: host:port` (STARTTLS) or
    // `domain: { address: host:port, tls: starttls | direct }`.
    std::map<std::string, XmppRoute> routes;
    std::optional<XmppWebOptions> web;  // xmpp-web only
    bool operator==(const XmppListenerOptions&) const = default;
};

struct SipListenerOptions {
    std::string identity_header = "X-Ward-TLS-Peer";
    std::uint32_t max_header_size = 16 * 1024;
    std::uint32_t max_body_size = 64 * 1024;
    Duration message_timeout = std::chrono::seconds(30);
    // Edge routing both ways (sip listeners; RFC 3327, 5626, 5658): the loopback address where
    // ward takes requests from the backend for its peers' flows. Unset: ward relays as a plain
    // framing proxy and adds no Record-Route or Path.
    std::optional<Endpoint> return_bind;
    // host:port peers reach this listener at, written in the TLS side's Record-Route. Default:
    // the bind address, which must then not be a wildcard.
    std::optional<Endpoint> advertised;
    bool operator==(const SipListenerOptions&) const = default;
};

struct ExchangeOptions {
    ExchangeAuth auth = ExchangeAuth::automatic;
    // user= and password= lines; mode 0600 (no group or other bits), read when a snapshot is
    // built; its contents are never logged or shown.
    FilePath credentials_file;
    std::string domain;                 // the NTLM user domain (as the account's domain is written)
    std::string workstation = "WARD";   // the NTLM workstation name
    std::uint32_t max_header_size = 64 * 1024;          // a request's or response's header block
    // Bodies are held whole (each connection may hold one request and one response): sizes for
    // SOAP calls, not for mail.
    std::uint32_t max_body_size = 1024 * 1024;           // a request's body
    std::uint32_t max_response_size = 16 * 1024 * 1024;  // a response's body
    Duration request_timeout = std::chrono::seconds(60);  // one request, and Exchange's answer
    std::uint32_t pool_size = 8;  // authenticated connections kept idle per worker
    bool operator==(const ExchangeOptions&) const = default;
};

struct Listener {
    std::string name;
    Protocol protocol = Protocol::tls;
    Endpoint bind;
    std::vector<Endpoint> backends;
    std::string tls_context;
    Limits limits;  // starts from the top-level limits; per-listener keys override
    std::optional<XmppListenerOptions> xmpp;
    std::optional<SipListenerOptions> sip;
    std::optional<ExchangeOptions> exchange;  // exchange-egress only
    // The PROXY protocol header (version 2, with the client's TLS details) on every backend
    // connection; inbound listeners only.
    ProxyProtocol proxy_protocol = ProxyProtocol::off;
    // Load balancers in front: connections from these addresses must begin with a PROXY v2
    // header, whose source address then stands for the client's; others connect directly.
    std::vector<Network> accept_proxy_protocol;
    bool operator==(const Listener&) const = default;
};

struct Metrics {
    bool enabled = true;
    Endpoint bind{"127.0.0.1", 9464};
    bool operator==(const Metrics&) const = default;
};

// The admin plane (HTTPS API): proxy/fronts/admin/. The credential rules here are the standard
// mode's; enhanced and common-criteria modes tighten them (proxy/ops/accounts.hpp).
struct Admin {
    bool enabled = false;
    Endpoint bind{"127.0.0.1", 9443};
    std::string tls_context;
    FilePath users_file;  // accounts: mode 0600, managed by `ward admin user ...` and the API
    FilePath audit_file;  // append-only, hash-chained JSON lines
    Duration session_timeout = std::chrono::minutes(30);  // idle
    Duration session_lifetime = std::chrono::hours(8);    // absolute
    std::uint32_t lockout_attempts = 5;                    // failed logins in a row that lock an account
    Duration lockout_duration = std::chrono::minutes(15);
    std::uint32_t login_failures_per_minute = 10;  // per source address, then 429
    std::uint32_t password_iterations = 600000;    // PBKDF2-HMAC-SHA256, for new hashes
    std::uint32_t max_body_size = 1024 * 1024;
    Duration request_timeout = std::chrono::seconds(10);  // a whole request, headers and body
    bool operator==(const Admin&) const = default;
};

// A ward cluster on etcd (the v3 API through its JSON gateway). Keys live under
// `<etcd.prefix>/<name>/`: `nodes/<node.name>` holds each live node's published certificate
// (with a lease), `tickets` the shared session ticket keys.
struct EtcdEndpoint {
    bool tls = false;      // https: mutual TLS through `cluster.etcd.tls_context`
    std::string host;      // an address or a name
    std::uint16_t port = 2379;
    std::string to_string() const;
    bool operator==(const EtcdEndpoint&) const = default;
};

struct Cluster {
    bool enabled = false;  // the block is there
    std::string name;      // the cluster's name (letters, digits, '.', '_', '-')
    std::vector<EtcdEndpoint> endpoints;
    std::string tls_context;  // etcd's CA (trust store) and this node's client certificate
    std::string prefix = "/ward";
    std::string trust_store;          // kept equal to the live nodes' certificates
    std::string publish_certificate;  // this node's certificate, published for the others
    Duration lease_ttl = std::chrono::seconds(10);
    Duration ticket_rotation = std::chrono::hours(12);  // the shared session ticket keys' period
    FilePath ticket_secret_file;  // seals the ticket keys in etcd; none: each node keeps its own keys
    std::vector<std::string> import_clusters;  // other clusters' names on the same etcd, read only
    bool operator==(const Cluster&) const = default;
};

struct Logging {
    LogLevel level = LogLevel::info;
    bool operator==(const Logging&) const = default;
};

// Where each setting was written, by dotted path, so that checks made after loading (cipher
// names against OpenSSL, certificate files) can still point at file:line:col.
class SourceMap {
public:
    void set(const std::string& path, Mark mark) { marks_[path] = mark; }
    // The mark of `path`, or of its closest written parent.
    Mark find(std::string_view path) const;

private:
    std::unordered_map<std::string, Mark> marks_;
};

struct Config {
    std::filesystem::path file;  // the configuration file as given
    Node node;
    std::string user;  // drop privileges to this user after binding (empty: stay)
    FilePath pid_file;  // written by `ward run`, read by `ward reload` (empty: none)
    Security security;
    std::vector<Certificate> certificates;
    std::vector<TrustStore> trust_stores;
    std::vector<PeerSubject> tls_peer_subjects;
    std::vector<TlsContext> tls_contexts;
    std::vector<Listener> listeners;
    unsigned workers = 0;  // 0: one per core
    Limits limits;
    Metrics metrics;
    Admin admin;
    Logging logging;
    Cluster cluster;
    std::shared_ptr<const SourceMap> sources = std::make_shared<SourceMap>();

    const Certificate* find_certificate(std::string_view name) const;
    const TrustStore* find_trust_store(std::string_view name) const;
    const TlsContext* find_tls_context(std::string_view name) const;
    const PeerSubject* find_peer_subject(std::string_view subject) const;

    Mark mark(std::string_view path) const { return sources->find(path); }

    // The model, without where it came from.
    bool same_settings(const Config& other) const;
};

}  // namespace ward::config
