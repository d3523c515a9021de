// SPDX-License-Identifier: Apache-2.0
#pragma once
// What peer_verifier.cpp shares with its flavour's half (peer_verifier_openssl.cpp or
// peer_verifier_wolfssl.cpp): the per-connection slots and the outcome of a check.
#include <string>

#include <openssl/ssl.h>

#include "tls/peer_verifier.hpp"

namespace ward::tls::detail {

// Per-SSL slots holding a string freed with the SSL: why the peer was refused, the verified
// subject of a full handshake, the subject a resumption was re-verified under.
enum class Slot { reason, subject, resumed_subject };
void set_string(SSL* ssl, Slot slot, std::string value);
std::string get_string(const SSL* ssl, Slot slot);
// Takes the slots' indices now (see tls::reserve_connection_slots()).
void reserve_slots();

struct PeerCheck {
    int error = X509_V_OK;  // X509_V_OK: the peer passes
    std::string reason;     // why not
    std::string subject;    // the subject CN, when it passes
};

// Hangs the rules on the context, where peer_rules() finds them.
void install_rules(SSL_CTX* ctx, const PeerRules* rules);

// The flavour's half: whether a failed server handshake stopped at a required client
// certificate that never came.
bool missing_required_certificate(const SSL* ssl);

}  // namespace ward::tls::detail
