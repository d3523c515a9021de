// SPDX-License-Identifier: Apache-2.0
#pragma once
// The wolfSSL flavour's one compatibility header. tls/CMakeLists.txt includes it before every
// source of a target that links ward_tls_library in that flavour, so wolfSSL's build options come
// first (as wolfSSL requires) and <openssl/...> then finds wolfSSL's compatibility layer. What
// that layer lacks and ward needs is filled here, under OpenSSL's names, only where the meaning is
// the same; parts with no counterpart have their own *_wolfssl.cpp.
#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/openssl/err.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/ssl.h>
#include <wolfssl/openssl/x509.h>
#include <wolfssl/openssl/x509v3.h>

#include <limits.h>
#include <stddef.h>

// --- same call, other spelling ----------------------------------------------------------------

inline int SSL_read_ex(SSL* ssl, void* buf, size_t num, size_t* done) {
    const int n = SSL_read(ssl, buf, num > INT_MAX ? INT_MAX : static_cast<int>(num));
    *done = n > 0 ? static_cast<size_t>(n) : 0;
    return n > 0 ? 1 : 0;
}

inline int SSL_write_ex(SSL* ssl, const void* buf, size_t num, size_t* done) {
    const int n = SSL_write(ssl, buf, num > INT_MAX ? INT_MAX : static_cast<int>(num));
    *done = n > 0 ? static_cast<size_t>(n) : 0;
    return n > 0 ? 1 : 0;
}

inline unsigned long ERR_get_error_all(const char** file, int* line, const char** func, const char** data, int* flags) {
    if (func) *func = nullptr;
    return ERR_get_error_line_data(file, line, data, flags);
}

// wolfSSL's digests are static descriptions: nothing to free.
inline void EVP_MD_free(const EVP_MD*) {}

// OpenSSL's X509v3 flags that ward reads, computed from the certificate as OpenSSL does:
// self-signed (issued by itself), and a CA (basicConstraints CA:TRUE).
#ifndef EXFLAG_CA
#define EXFLAG_CA 0x10
#endif
#ifndef EXFLAG_SS
#define EXFLAG_SS 0x2000
#endif
inline unsigned int ward_x509_extension_flags(X509* x) {
    unsigned int flags = wolfSSL_X509_get_extension_flags(x);
    if (X509_check_issued(x, x) == X509_V_OK) flags |= EXFLAG_SS;
    if (X509_check_ca(x) == 1) flags |= EXFLAG_CA;
    return flags;
}
#undef X509_get_extension_flags
#define X509_get_extension_flags ward_x509_extension_flags

inline unsigned int SSL_CIPHER_get_protocol_id(const SSL_CIPHER* c) {
    return static_cast<unsigned int>(SSL_CIPHER_get_id(c) & 0xffff);
}
