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
#include <wolfssl/wolfcrypt/asn_public.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cstdio>
#include <cstring>
#include <string_view>

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


// Const-correct forms of calls OpenSSL takes const and wolfSSL does not (they only read).
inline int wolfSSL_session_reused(const WOLFSSL* ssl) { return wolfSSL_session_reused(const_cast<WOLFSSL*>(ssl)); }
inline int wolfSSL_is_server(const WOLFSSL* ssl) { return wolfSSL_is_server(const_cast<WOLFSSL*>(ssl)); }

// --- keys and certificates ------------------------------------------------------------------

inline int EVP_PKEY_get_bits(const EVP_PKEY* key) { return EVP_PKEY_bits(const_cast<EVP_PKEY*>(key)); }
inline int EVP_PKEY_get_base_id(const EVP_PKEY* key) { return EVP_PKEY_base_id(key); }

// By OpenSSL's key type names; a type this build cannot hold is never it.
inline int EVP_PKEY_is_a(const EVP_PKEY* key, const char* name) {
    const int id = EVP_PKEY_base_id(key);
    const std::string_view n(name);
    if (n == "RSA") return id == EVP_PKEY_RSA;
    if (n == "EC") return id == EVP_PKEY_EC;
    return 0;
}

inline const char* EVP_PKEY_get0_type_name(const EVP_PKEY* key) {
    switch (EVP_PKEY_base_id(key)) {
        case EVP_PKEY_RSA: return "RSA";
        case EVP_PKEY_EC: return "EC";
        case EVP_PKEY_DH: return "DH";
        default: return nullptr;
    }
}

// Only the parameter ward asks for: an EC key's group, by OpenSSL's short name.
inline int EVP_PKEY_get_utf8_string_param(const EVP_PKEY* key, const char* param, char* out, size_t size,
                                          size_t* length) {
    if (std::string_view(param) != "group" || EVP_PKEY_base_id(key) != EVP_PKEY_EC) return 0;
    const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(const_cast<EVP_PKEY*>(key));
    const EC_GROUP* group = ec ? EC_KEY_get0_group(ec) : nullptr;
    const char* name = group ? OBJ_nid2sn(EC_GROUP_get_curve_name(group)) : nullptr;
    if (name == nullptr || std::strlen(name) + 1 > size) return 0;
    std::strcpy(out, name);
    if (length) *length = std::strlen(name);
    return 1;
}

#ifndef NID_md5_sha1
#define NID_md5_sha1 114
#endif
#ifndef X509_VERSION_3
#define X509_VERSION_3 2
#endif

// The digest of a certificate's signature, from its algorithm (OpenSSL's OBJ_find_sigid_algs).
inline int X509_get_signature_info(X509* x, int* md_nid, int* pk_nid, int* secbits, uint32_t* flags) {
    int md = NID_undef;
    switch (X509_get_signature_nid(x)) {
        case NID_md5WithRSAEncryption: md = NID_md5; break;
        case NID_sha1WithRSAEncryption: case NID_ecdsa_with_SHA1: md = NID_sha1; break;
        case NID_sha224WithRSAEncryption: case NID_ecdsa_with_SHA224: md = NID_sha224; break;
        case NID_sha256WithRSAEncryption: case NID_ecdsa_with_SHA256: md = NID_sha256; break;
        case NID_sha384WithRSAEncryption: case NID_ecdsa_with_SHA384: md = NID_sha384; break;
        case NID_sha512WithRSAEncryption: case NID_ecdsa_with_SHA512: md = NID_sha512; break;
        default: return 0;
    }
    if (md_nid) *md_nid = md;
    if (pk_nid) *pk_nid = NID_undef;
    if (secbits) *secbits = 0;
    if (flags) *flags = 0;
    return 1;
}

// --- trust stores ---------------------------------------------------------------------------

// wolfSSL's stores have no depth: it bounds chains at MAX_CHAIN_DEPTH certificates when it
// builds them in the handshake, and ward's verify callback refuses anything deeper than
// OpenSSL's limit (tls/peer_verifier_wolfssl.cpp).
inline int X509_STORE_set_depth(X509_STORE*, int) { return 1; }

// Set only in common-criteria mode, which this flavour refuses before any context is built
// (tls/fips_provider_wolfssl.cpp).
#ifndef X509_V_FLAG_X509_STRICT
#define X509_V_FLAG_X509_STRICT 0
#endif
inline int wolfSSL_ASN1_STRING_length(const WOLFSSL_ASN1_STRING* s) {
    return wolfSSL_ASN1_STRING_length(const_cast<WOLFSSL_ASN1_STRING*>(s));
}

// --- connections ----------------------------------------------------------------------------

// A connection's verify mode changed with no callback keeps the context's: on OpenSSL ward's
// checks sit in the context's certificate-verify callback, which SSL_set_verify never touches;
// on wolfSSL they sit in the verify callback, which wolfSSL_set_verify would replace with none.
inline void ward_set_verify(SSL* ssl, int mode, VerifyCallback callback) {
    wolfSSL_set_verify(ssl, mode, callback ? callback : wolfSSL_get_verify_callback(ssl));
}
#undef SSL_set_verify
#define SSL_set_verify ward_set_verify

inline int SSL_set_hostflags(SSL* ssl, unsigned int flags) {
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl), flags);
    return 1;
}

// The peer's certificate, owned by the connection (OpenSSL's get0). wolfSSL hands out a copy
// each time; the first one is kept on the connection and freed with it.
inline void ward_free_peer_certificate(void* x) { X509_free(static_cast<X509*>(x)); }
// (Taken at startup with the others, by tls::reserve_connection_slots(): wolfSSL hands out
// indices without a lock.)
inline int ward_peer_certificate_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}
inline X509* SSL_get0_peer_certificate(const SSL* s) {
    const int index = ward_peer_certificate_index();
    auto* ssl = const_cast<SSL*>(s);
    if (auto* kept = static_cast<X509*>(SSL_get_ex_data(ssl, index))) return kept;
    X509* copy = SSL_get_peer_certificate(ssl);
    if (copy == nullptr) return nullptr;
    if (wolfSSL_set_ex_data_with_cleanup(ssl, index, copy, ward_free_peer_certificate) != WOLFSSL_SUCCESS) {
        X509_free(copy);
        return nullptr;
    }
    return copy;
}

// OpenSSL's reason for a peer that closed without close_notify; wolfSSL reports that as
// SSL_ERROR_SYSCALL or SSL_ERROR_ZERO_RETURN instead, so an error queue never holds it.
#ifndef SSL_R_UNEXPECTED_EOF_WHILE_READING
#define SSL_R_UNEXPECTED_EOF_WHILE_READING 294
#endif

// --- names ----------------------------------------------------------------------------------

typedef WOLFSSL_ASN1_OTHERNAME OTHERNAME;

// --- key and certificate making (ward pki) ----------------------------------------------------

inline EVP_PKEY* ward_pkey_of_ec(int nid) {
    EC_KEY* ec = nid == NID_undef ? nullptr : EC_KEY_new_by_curve_name(nid);
    EVP_PKEY* key = ec ? EVP_PKEY_new() : nullptr;
    if (!key || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
        EVP_PKEY_free(key);
        EC_KEY_free(ec);
        return nullptr;
    }
    return key;
}
// OpenSSL 3's one-call key generation, for the key types this build has: an EC key on a curve
// named as OpenSSL names it ("P-256" or a short name), an RSA key of `bits` with e = 65537.
inline EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, const char* curve) {
    if (std::string_view(type) != "EC") return nullptr;
    int nid = EC_curve_nist2nid(curve);
    if (nid == NID_undef) nid = OBJ_sn2nid(curve);
    return ward_pkey_of_ec(nid);
}
inline EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, size_t bits) {
    if (std::string_view(type) != "RSA" || bits > INT_MAX) return nullptr;
    RSA* rsa = RSA_new();
    BIGNUM* e = BN_new();
    EVP_PKEY* key = rsa && e ? EVP_PKEY_new() : nullptr;
    const bool ok = key && BN_set_word(e, RSA_F4) == 1 &&
                    RSA_generate_key_ex(rsa, static_cast<int>(bits), e, nullptr) == 1 && EVP_PKEY_assign_RSA(key, rsa) == 1;
    BN_free(e);
    if (!ok) {
        EVP_PKEY_free(key);
        RSA_free(rsa);
        return nullptr;
    }
    return key;
}
// (No EdDSA in this build.)
inline EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char*) { return nullptr; }

inline EVP_MD* EVP_MD_fetch(void*, const char* name, const char*) {
    return const_cast<EVP_MD*>(EVP_get_digestbyname(name));
}

// wolfSSL has no secure-heap BIO; a memory BIO it is.
inline BIO_METHOD* BIO_s_secmem() { return BIO_s_mem(); }

// SubjectPublicKeyInfo. wolfSSL's i2d_PUBKEY writes an EC key without its algorithm identifier
// and an RSA key as PKCS #1; wolfCrypt's encoders write the whole structure. Writes through
// `out` (never allocating) and returns the size, or -1.
inline int ward_i2d_pubkey(EVP_PKEY* key, unsigned char** out) {
    unsigned char der[4096];  // RSA-16384 takes 2.1 KB; the encoders refuse what does not fit
    int size = -1;
    if (!key) return -1;
    if (EVP_PKEY_base_id(key) == EVP_PKEY_EC && key->ecc && key->ecc->internal) {
        size = wc_EccPublicKeyToDer(static_cast<ecc_key*>(key->ecc->internal), der, sizeof der, 1);
    } else if (EVP_PKEY_base_id(key) == EVP_PKEY_RSA && key->rsa && key->rsa->internal) {
        size = wc_RsaKeyToPublicDer(static_cast<RsaKey*>(key->rsa->internal), der, sizeof der);
    }
    if (size <= 0) return -1;
    if (out) {
        if (!*out) return -1;
        std::memcpy(*out, der, static_cast<std::size_t>(size));
        *out += size;
    }
    return size;
}
#undef i2d_PUBKEY
#define i2d_PUBKEY ward_i2d_pubkey

// wolfSSL matches an IP address as text, against its own spelling of the certificate's
// iPAddress entries: a dotted quad, and IPv6 as eight groups of four upper-case hex digits. An
// address written any other way ("::1") never matches, so it is spelled that way first.
inline bool ward_spell_ip(const char* text, char (&spelled)[48]) {
    unsigned char ip[16];
    if (inet_pton(AF_INET, text, ip) == 1) {
        std::snprintf(spelled, sizeof spelled, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
        return true;
    }
    if (inet_pton(AF_INET6, text, ip) != 1) return false;
    for (int i = 0; i < 8; ++i) {
        std::snprintf(spelled + i * 5, sizeof spelled - static_cast<std::size_t>(i) * 5, "%02X%02X%s", ip[2 * i],
                      ip[2 * i + 1], i < 7 ? ":" : "");
    }
    return true;
}
inline int ward_set1_ip_asc(X509_VERIFY_PARAM* param, const char* text) {
    char spelled[48];
    return ward_spell_ip(text, spelled) ? wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(param, spelled) : 0;
}
#undef X509_VERIFY_PARAM_set1_ip_asc
#define X509_VERIFY_PARAM_set1_ip_asc ward_set1_ip_asc
inline int ward_check_ip_asc(X509* cert, const char* text, unsigned int flags) {
    char spelled[48];
    return ward_spell_ip(text, spelled) ? wolfSSL_X509_check_ip_asc(cert, spelled, flags) : 0;
}
#undef X509_check_ip_asc
#define X509_check_ip_asc ward_check_ip_asc

// OpenSSL's one-call signing, for the key types this build has (EdDSA is not among them, so
// there is always a digest): with no signature buffer, the largest signature's size.
inline int ward_digest_sign(EVP_MD_CTX* ctx, unsigned char* signature, size_t* size, const unsigned char* data,
                            size_t length) {
    if (signature && EVP_DigestSignUpdate(ctx, data, length) != 1) return 0;
    return EVP_DigestSignFinal(ctx, signature, size);
}
#define EVP_DigestSign ward_digest_sign

// A connection keeps no chain in this build (no SESSION_CERTS, which costs 37-56 KB a
// session): the peer's chain and the verified chain are never known after the handshake.
inline STACK_OF(X509)* ward_no_chain(const SSL*) { return nullptr; }
#undef SSL_get0_verified_chain
#define SSL_get0_verified_chain ward_no_chain
#undef SSL_get_peer_cert_chain
#define SSL_get_peer_cert_chain ward_no_chain

// A verification error's text as OpenSSL words it (ward's refusal reasons and logs read the
// same in both flavours): wolfSSL looks X509_V_ERR codes up among its own error numbers and
// answers "certificate verify failed" for all of them.
inline const char* ward_verify_error_string(long code) {
    static constexpr const char* kText[] = {
        "ok",
        "unspecified certificate verification error",
        "unable to get issuer certificate",
        "unable to get certificate CRL",
        "unable to decrypt certificate's signature",
        "unable to decrypt CRL's signature",
        "unable to decode issuer public key",
        "certificate signature failure",
        "CRL signature failure",
        "certificate is not yet valid",
        "certificate has expired",
        "CRL is not yet valid",
        "CRL has expired",
        "format error in certificate's notBefore field",
        "format error in certificate's notAfter field",
        "format error in CRL's lastUpdate field",
        "format error in CRL's nextUpdate field",
        "out of memory",
        "self-signed certificate",
        "self-signed certificate in certificate chain",
        "unable to get local issuer certificate",
        "unable to verify the first certificate",
        "certificate chain too long",
        "certificate revoked",
        "issuer certificate doesn't have a public key",
        "path length constraint exceeded",
        "unsuitable certificate purpose",
        "certificate not trusted",
        "certificate rejected",
        "subject issuer mismatch",
        "authority and subject key identifier mismatch",
        "authority and issuer serial number mismatch",
        "key usage does not include certificate signing",
        "unable to get CRL issuer certificate",
        "unhandled critical extension",
        "key usage does not include CRL signing",
        "unhandled critical CRL extension",
        "invalid non-CA certificate (has CA markings)",
        "proxy path length constraint exceeded",
        "key usage does not include digital signature",
        "proxy certificates not allowed, please set the appropriate flag",
        "invalid or inconsistent certificate extension",
        "invalid or inconsistent certificate policy extension",
        "no explicit policy",
        "different CRL scope",
        "unsupported extension feature",
        "RFC 3779 resource not subset of parent's resources",
        "permitted subtree violation",
        "excluded subtree violation",
        "name constraints minimum and maximum not supported",
        "application verification failure",
        "unsupported name constraint type",
        "unsupported or invalid name constraint syntax",
        "unsupported or invalid name syntax",
        "CRL path validation error",
        "path loop",
        "Suite B: certificate version invalid",
        "Suite B: invalid public key algorithm",
        "Suite B: invalid ECC curve",
        "Suite B: invalid signature algorithm",
        "Suite B: curve not allowed for this LOS",
        "Suite B: cannot sign P-384 with P-256",
        "hostname mismatch",
        "email address mismatch",
        "IP address mismatch",
    };
    if (code >= 0 && code < static_cast<long>(sizeof kText / sizeof kText[0])) return kText[code];
    return "unknown certificate verification error";
}
#undef X509_verify_cert_error_string
#define X509_verify_cert_error_string ward_verify_error_string

// The negotiated suite by OpenSSL's name (logs, the PROXY header's cipher): a TLS 1.3 suite by
// its IANA name, an older one as "ECDHE-ECDSA-AES128-GCM-SHA256"; wolfSSL's SSL_get_cipher_name
// gives every suite its IANA name.
inline const char* ward_cipher_name(const SSL* ssl) {
    auto* s = const_cast<SSL*>(ssl);
    const char* iana = wolfSSL_get_cipher(s);
    if (iana == nullptr) return nullptr;
    if (std::strncmp(iana, "TLS_AES_", 8) == 0 || std::strncmp(iana, "TLS_CHACHA20_", 13) == 0) return iana;
    const char* openssl_style = wolfSSL_get_cipher_name(s);
    return openssl_style ? openssl_style : iana;
}
#undef SSL_get_cipher_name
#define SSL_get_cipher_name ward_cipher_name
