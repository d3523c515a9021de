// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the tests' own "other side" of a handshake asks of the library beyond what ward does, in
// the wolfSSL flavour: force-included into the test targets (ward's own fills first), with
// the same rule (the same meaning under OpenSSL's name, or the call is not filled at all).
#include <cctype>
#include <string>

#include "tls/wolfssl_compat.hpp"

// No library contexts: the tests that pass one (the FIPS tier) run in the OpenSSL flavour only.
struct ward_no_lib_ctx;
using OSSL_LIB_CTX = ward_no_lib_ctx;
inline SSL_CTX* SSL_CTX_new_ex(OSSL_LIB_CTX* libctx, const char*, const SSL_METHOD* method) {
    if (libctx != nullptr) return nullptr;
    return SSL_CTX_new(const_cast<SSL_METHOD*>(method));
}

inline int SSL_CTX_load_verify_file(SSL_CTX* ctx, const char* file) {
    return SSL_CTX_load_verify_locations(ctx, file, nullptr) == WOLFSSL_SUCCESS ? 1 : 0;
}

// ward installs no info callback in this flavour, and wolfSSL keeps the one installed out of
// reach: there is none to chain to.
inline void (*SSL_CTX_get_info_callback(SSL_CTX*))(const SSL*, int, int) { return nullptr; }
inline void (*SSL_get_info_callback(const SSL*))(const SSL*, int, int) { return nullptr; }

#ifndef SSL3_AL_WARNING
#define SSL3_AL_WARNING 1
#endif

#ifndef SSL3_MT_SERVER_HELLO
#define SSL3_MT_SERVER_HELLO 2
#endif

// The negotiated key exchange group by OpenSSL's name ("secp256r1", "x25519"): wolfSSL names it
// in capitals and has no group numbers to pass around, so the number is a placeholder.
inline int SSL_get_negotiated_group(SSL*) { return 0; }
inline const char* SSL_group_to_name(SSL* ssl, int) {
    thread_local std::string name;
    const char* wolf = wolfSSL_get_curve_name(ssl);
    if (!wolf) return nullptr;
    name = wolf;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name.c_str();
}

inline int EVP_PKEY_eq(const EVP_PKEY* a, const EVP_PKEY* b) { return EVP_PKEY_cmp(a, b); }

inline void X509_STORE_CTX_set_flags(X509_STORE_CTX* ctx, unsigned long flags) {
    wolfSSL_X509_VERIFY_PARAM_set_flags(ctx->param, flags);
}
// wolfSSL checks no purpose when it verifies a chain (ward's verifier checks the extended key
// usage itself): asking for one fails, so no test believes it was checked.
inline int X509_STORE_CTX_set_purpose(X509_STORE_CTX*, int) { return 0; }

// The session ticket a client connection received: wolfSSL keeps it on the connection, not in
// the session object the tests hold.
inline std::string ward_session_ticket(SSL* ssl) {
    unsigned char buffer[4096];
    word32 size = sizeof buffer;
    if (wolfSSL_get_SessionTicket(ssl, buffer, &size) != WOLFSSL_SUCCESS) return {};
    return std::string(reinterpret_cast<const char*>(buffer), size);
}

// Built without renegotiation (ward refuses it anyway): a peer cannot start one.
#undef SSL_renegotiate
inline int SSL_renegotiate(SSL*) { return 0; }

// The time the peer's certificate is checked at (wolfSSL's store context does the same).
inline void X509_VERIFY_PARAM_set_time(X509_VERIFY_PARAM* param, time_t when) {
    param->check_time = when;
    param->flags |= WOLFSSL_USE_CHECK_TIME;
}
