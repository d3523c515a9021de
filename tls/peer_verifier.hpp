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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/security_policy.hpp"

namespace ward::tls {

struct PeerRules {
    std::vector<std::string> subjects;  // selected peer subjects; empty: any verified peer
    SecurityPolicy policy{config::SecurityMode::standard};
    config::CrlMissing crl_missing = config::CrlMissing::reject;
};

struct SubjectMatch {
    bool ok = false;
    std::string common_name;  // the CN, when there is exactly one
    std::string reason;       // why not, when !ok
};

// Applies the subject rule to a certificate.
SubjectMatch match_subject(X509* cert, const std::vector<std::string>& subjects);

// Installs the verification on a context. `rules` must outlive the SSL_CTX and every SSL made
// from it.
void install_peer_verifier(SSL_CTX* ctx, const PeerRules* rules);

// After a failed handshake: why the peer was refused ("" when verification did not fail).
std::string peer_refusal_reason(const SSL* ssl);
// After a successful handshake: the verified peer's subject CN ("" when no certificate was
// presented or verification was off).
std::string verified_peer_subject(const SSL* ssl);

}  // namespace ward::tls
