// SPDX-License-Identifier: Apache-2.0
// The catalog's source on wolfSSL: every suite this build of wolfSSL was compiled with, read
// through a connection state of a context that enables them all.
#include "tls/cipher_catalog.hpp"

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls::detail {

void for_each_library_cipher(const std::function<void(const SSL_CIPHER*)>& each) {
    UniqueSslCtx ctx(SSL_CTX_new(TLS_method()));
    if (ctx && SSL_CTX_set_cipher_list(ctx.get(), "ALL") == 1) {
        UniqueSsl ssl(SSL_new(ctx.get()));
        STACK_OF(SSL_CIPHER)* list = ssl ? SSL_get_ciphers(ssl.get()) : nullptr;
        for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) each(sk_SSL_CIPHER_value(list, i));
    }
    clear_openssl_errors();
}

}  // namespace ward::tls::detail
