// SPDX-License-Identifier: Apache-2.0
// Ticket sealing on OpenSSL: libssl's ticket format (AES-256-CBC and HMAC-SHA256) under the
// process's keys, through the EVP ticket key callback.
#include "tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <mutex>

#include "tls/ticket_keys_detail.hpp"

namespace ward::tls {

namespace {

// Fetched once, after the security mode is active: in FIPS mode from the FIPS provider.
const EVP_CIPHER* ticket_cipher() {
    static std::once_flag fetched;
    static EVP_CIPHER* cipher = nullptr;
    std::call_once(fetched, [] { cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr); });
    return cipher;
}

bool set_mac_key(EVP_MAC_CTX* hctx, TicketKey& key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

int ticket_key_callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* ctx, EVP_MAC_CTX* hctx,
                        int enc) {
    const EVP_CIPHER* cipher = ticket_cipher();
    if (cipher == nullptr) return -1;
    TicketKey key;  // (cleansed when it goes)
    int result = 1;
    if (enc == 1) {
        if (!detail::sealing_ticket_key(key)) return -1;
        std::memcpy(key_name, key.name.data(), key.name.size());
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1 ||
            EVP_EncryptInit_ex(ctx, cipher, nullptr, key.aes.data(), iv) != 1)
            result = -1;
    } else {
        result = detail::opening_ticket_key(key_name, key);
        if (result != 0 && EVP_DecryptInit_ex(ctx, cipher, nullptr, key.aes.data(), iv) != 1) result = -1;
        // TLS 1.3 clients use a ticket once (RFC 8446 appendix C.4): a resumption must bring
        // a fresh one, which OpenSSL sends only when the ticket is "to be renewed".
        if (result == 1 && SSL_version(ssl) >= TLS1_3_VERSION) result = 2;
    }
    if (result > 0 && !set_mac_key(hctx, key)) result = -1;
    return result;
}

}  // namespace

void install_ticket_keys(SSL_CTX* ctx) { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ticket_key_callback); }

}  // namespace ward::tls
