// SPDX-License-Identifier: Apache-2.0
#pragma once
// Peer verification, inside the handshake: the chain must reach the context's trust store,
// every certificate in it must satisfy the security mode, and the leaf's subject CN must be
// one of the context's selected peer subjects. A refusal fails the handshake with an alert;
// no connection is ever established and then closed.
//
// The subject rule (one rule, documented for operators):
//   - the subject must hold exactly one CN; none, or several, is a refusal;
//   - a CN with an embedded NUL byte is a refusal;
//   - the CN matches a selected subject when both are equal ignoring ASCII case, byte for byte
//     otherwise (no wildcards, no partial matches, no SAN fallback);
//   - with no subjects selected, any certificate that verifies against the trust store passes.
//
// Resumption (a TLS 1.2 ticket or a TLS 1.3 PSK) skips the peer's certificate, so a resumed
// session is held to the same rules before OpenSSL accepts it: its stored peer certificate is
// verified again against the context as it is now (trust store, CRLs, validity, mode rules,
// selected subjects, verify mode). A session that would not pass is declined, and OpenSSL falls
// back to a full handshake, where the normal rules apply. The session id context is a digest
// of every setting that decides who may connect, so a session made under another policy is
// never resumed either. A resumed session keeps only its leaf: a peer whose chain needed
// intermediates it sent itself (not in the trust store) does a full handshake each time.
#include <array>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/security_policy.hpp"

namespace ward::tls {

class OcspCache;  // tls/ocsp.hpp

// The longest chain a peer may present: this many certificates above its own.
inline constexpr int kMaxChainDepth = 8;

struct PeerRules {
    std::vector<std::string> subjects;  // selected peer subjects; empty: any verified peer
    SecurityPolicy policy{config::SecurityMode::standard};
    config::CrlMissing crl_missing = config::CrlMissing::reject;
    config::VerifyPeer verify = config::VerifyPeer::none;
    // Peers' revocation by OCSP (checked by the engine after the handshake, on every connection,
    // resumed ones included), with what was learned shared by the context's connections.
    std::string context;  // the context's name, for counters and logs
    config::Revocation revocation;
    std::shared_ptr<OcspCache> ocsp_cache;
    // The DER of every certificate in the context's trust store: a peer certificate found here
    // is its own anchor (OpenSSL: X509_V_FLAG_PARTIAL_CHAIN; wolfSSL: the verifier's own check).
    std::vector<std::string> trusted_der;
    bool trusted_crls = false;  // the trust store holds CRLs
    // The session id context: a digest of everything above plus the context's name and the
    // trust store's contents (see ContextBuilder).
    std::array<unsigned char, 32> session_context{};
};

struct SubjectMatch {
    bool ok = false;
    std::string common_name;  // the CN, when there is exactly one
    std::string reason;       // why not, when !ok
};

// Applies the subject rule to a certificate.
SubjectMatch match_subject(X509* cert, const std::vector<std::string>& subjects);

// Installs the verification, for full handshakes and for resumptions, and the session id
// context on a context. `rules` must outlive the SSL_CTX and every SSL made from it.
void install_peer_verifier(SSL_CTX* ctx, const PeerRules* rules);

// The rules of the context an SSL was made from (nullptr when none were installed).
const PeerRules* peer_rules(const SSL* ssl);

// After a failed handshake: why the peer was refused ("" when verification did not fail).
std::string peer_refusal_reason(const SSL* ssl);
// After a successful handshake: the verified peer's subject CN ("" when no certificate was
// presented or verification was off). For a resumed session, the subject its certificate was
// verified under when the resumption was accepted.
std::string verified_peer_subject(const SSL* ssl);

}  // namespace ward::tls
