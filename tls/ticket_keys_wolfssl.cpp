// SPDX-License-Identifier: Apache-2.0
// Ticket sealing on wolfSSL, through its own ticket callback: AES-256-GCM (the tag is checked in
// constant time by wolfCrypt) under a key derived from the process's ticket key and the
// context's session id context. wolfSSL checks the session id context of a TLS 1.3 ticket but
// not of a TLS 1.2 one; with the key bound to it, a ticket made under another policy (other
// peers, trust store, mode, ciphers) does not open at all, in either version, and the client
// does a full handshake.
#include "tls/ticket_keys.hpp"

#include <cstring>

#include "tls/crypto.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/ticket_keys_detail.hpp"
#include "tls/wolfcrypt_aes.hpp"

namespace ward::tls {

namespace {

static_assert(WOLFSSL_TICKET_NAME_SZ == sizeof(TicketKey::name));
static_assert(WOLFSSL_TICKET_IV_SZ >= crypto::kGcmIv && WOLFSSL_TICKET_MAC_SZ >= crypto::kGcmTag);

// The sealing key for one context: HMAC-SHA256(ticket key's AES key, label || session id context).
bool context_key(const TicketKey& key, const SSL* ssl, crypto::Sha256& out) {
    const PeerRules* rules = peer_rules(ssl);
    if (rules == nullptr) return false;
    auto derived = crypto::hmac_sha256(key.aes, {crypto::bytes("ward ticket key v1"), rules->session_context});
    if (!derived) return false;
    out = *derived;
    crypto::cleanse(derived->data(), derived->size());
    return true;
}

int ticket_callback(WOLFSSL* ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ], unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char* ticket, int length, int* out_length,
                    void*) {
    if (length <= 0 || out_length == nullptr) return WOLFSSL_TICKET_RET_REJECT;
    TicketKey key;  // (cleansed when it goes)
    int found = 1;
    if (enc) {
        if (!detail::sealing_ticket_key(key)) return WOLFSSL_TICKET_RET_FATAL;
    } else {
        // A connection that verifies its peer (a context that does, or one made to demand a
        // certificate for this connection, as s2s does) never resumes: its peer's certificate
        // could not be verified again (tls/peer_verifier_wolfssl.cpp).
        if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) return WOLFSSL_TICKET_RET_REJECT;
        found = detail::opening_ticket_key(name, key);
        if (found == 0) return WOLFSSL_TICKET_RET_REJECT;  // unknown or expired: a full handshake
    }
    crypto::Sha256 sealing{};
    crypto::WolfAes aes;
    bool ok = context_key(key, ssl, sealing) && aes.ready &&
              wc_AesGcmSetKey(&aes.aes, sealing.data(), static_cast<word32>(sealing.size())) == 0;
    crypto::cleanse(sealing.data(), sealing.size());
    const auto size = static_cast<word32>(length);
    if (enc) {
        std::memcpy(name, key.name.data(), key.name.size());
        std::memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
        std::memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        ok = ok && crypto::random_bytes({iv, crypto::kGcmIv}) &&
             wc_AesGcmEncrypt(&aes.aes, ticket, ticket, size, iv, crypto::kGcmIv, mac, crypto::kGcmTag, name,
                              WOLFSSL_TICKET_NAME_SZ) == 0;
        if (!ok) return WOLFSSL_TICKET_RET_FATAL;
        *out_length = length;
        return WOLFSSL_TICKET_RET_OK;
    }
    ok = ok && wc_AesGcmDecrypt(&aes.aes, ticket, ticket, size, iv, crypto::kGcmIv, mac, crypto::kGcmTag, name,
                                WOLFSSL_TICKET_NAME_SZ) == 0;
    if (!ok) return WOLFSSL_TICKET_RET_REJECT;  // another policy's, or altered: a full handshake
    *out_length = length;
    // TLS 1.2: an older key's ticket resumes and is answered with a fresh one (CREATE). TLS 1.3:
    // CREATE would decline the resumption; wolfSSL sends a fresh ticket after every TLS 1.3
    // handshake anyway (clients use a ticket once).
    return found == 2 && SSL_version(ssl) < TLS1_3_VERSION ? WOLFSSL_TICKET_RET_CREATE : WOLFSSL_TICKET_RET_OK;
}

}  // namespace

void install_ticket_keys(SSL_CTX* ctx) { wolfSSL_CTX_set_TicketEncCb(ctx, ticket_callback); }

}  // namespace ward::tls
