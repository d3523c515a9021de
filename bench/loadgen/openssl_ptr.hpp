// SPDX-License-Identifier: Apache-2.0
#pragma once
// Owning handles for the OpenSSL objects the load generator keeps.
#include <memory>

#include <openssl/ssl.h>

namespace ward::loadgen {

template <auto Free>
struct OpensslDeleter {
    template <class T>
    void operator()(T* p) const { Free(p); }
};

using UniqueSslCtx = std::unique_ptr<SSL_CTX, OpensslDeleter<SSL_CTX_free>>;
using UniqueSsl = std::unique_ptr<SSL, OpensslDeleter<SSL_free>>;
using UniqueSession = std::unique_ptr<SSL_SESSION, OpensslDeleter<SSL_SESSION_free>>;

}  // namespace ward::loadgen
