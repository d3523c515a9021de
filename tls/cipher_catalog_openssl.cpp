// SPDX-License-Identifier: Apache-2.0
// The catalog's source on OpenSSL: an SSL_CTX that enables everything this libssl knows, at
// security level 0, in a library context of its own with the default provider, so the catalog
// lists what OpenSSL offers, not what a policy or the FIPS provider (when it is the process
// default) leaves.
#include "tls/cipher_catalog.hpp"

#include <openssl/provider.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls::detail {

void for_each_library_cipher(const std::function<void(const SSL_CIPHER*)>& each) {
    OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER* provider = libctx ? OSSL_PROVIDER_load(libctx, "default") : nullptr;
    UniqueSslCtx ctx(provider ? SSL_CTX_new_ex(libctx, nullptr, TLS_method()) : nullptr);
    if (ctx) {
        SSL_CTX_set_security_level(ctx.get(), 0);
        SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL");
        SSL_CTX_set_ciphersuites(ctx.get(),
                                 "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
                                 "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256");
        STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx.get());
        for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) each(sk_SSL_CIPHER_value(list, i));
    }
    ctx.reset();
    if (provider) OSSL_PROVIDER_unload(provider);
    OSSL_LIB_CTX_free(libctx);
    clear_openssl_errors();
}

}  // namespace ward::tls::detail
