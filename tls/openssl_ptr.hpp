// SPDX-License-Identifier: Apache-2.0
#pragma once
// Owning handles for OpenSSL objects.
#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ward::tls {

template <auto Free>
struct OpensslDeleter {
    template <class T>
    void operator()(T* p) const { Free(p); }
};

using UniqueX509 = std::unique_ptr<X509, OpensslDeleter<X509_free>>;
using UniquePkey = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using UniquePkeyCtx = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>>;
using UniqueBio = std::unique_ptr<BIO, OpensslDeleter<BIO_free_all>>;
using UniqueSslCtx = std::unique_ptr<SSL_CTX, OpensslDeleter<SSL_CTX_free>>;
using UniqueSsl = std::unique_ptr<SSL, OpensslDeleter<SSL_free>>;
using UniqueX509Store = std::unique_ptr<X509_STORE, OpensslDeleter<X509_STORE_free>>;
using UniqueX509StoreCtx = std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX_free>>;
using UniqueX509Crl = std::unique_ptr<X509_CRL, OpensslDeleter<X509_CRL_free>>;
using UniqueX509Name = std::unique_ptr<X509_NAME, OpensslDeleter<X509_NAME_free>>;
using UniqueX509Extension = std::unique_ptr<X509_EXTENSION, OpensslDeleter<X509_EXTENSION_free>>;
using UniqueMd = std::unique_ptr<EVP_MD, OpensslDeleter<EVP_MD_free>>;
using UniqueBignum = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;
using UniqueAsn1String = std::unique_ptr<ASN1_STRING, OpensslDeleter<ASN1_STRING_free>>;
using UniqueAsn1Object = std::unique_ptr<ASN1_OBJECT, OpensslDeleter<ASN1_OBJECT_free>>;
using UniqueAsn1Type = std::unique_ptr<ASN1_TYPE, OpensslDeleter<ASN1_TYPE_free>>;
using UniqueGeneralName = std::unique_ptr<GENERAL_NAME, OpensslDeleter<GENERAL_NAME_free>>;
using UniqueGeneralNames = std::unique_ptr<GENERAL_NAMES, OpensslDeleter<GENERAL_NAMES_free>>;

inline void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
using UniqueX509Stack = std::unique_ptr<STACK_OF(X509), OpensslDeleter<free_x509_stack>>;

}  // namespace ward::tls
