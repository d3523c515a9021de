// SPDX-License-Identifier: Apache-2.0
// NTLM's legacy algorithms on OpenSSL: a library context of their own with the default and
// legacy providers, never the process's default context (FIPS-only in FIPS mode).
#include "proxy/exchange/ntlm.hpp"

#include <mutex>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

namespace ward::exchange::ntlm {

struct LegacyCrypto::Impl {
    OSSL_LIB_CTX* ctx = nullptr;
    OSSL_PROVIDER* default_provider = nullptr;
    OSSL_PROVIDER* legacy_provider = nullptr;
    EVP_MD* md4 = nullptr;
    EVP_MD* md5 = nullptr;
    EVP_MAC* hmac = nullptr;
    EVP_CIPHER* rc4 = nullptr;
    ~Impl() {
        EVP_CIPHER_free(rc4);
        EVP_MAC_free(hmac);
        EVP_MD_free(md5);
        EVP_MD_free(md4);
        if (legacy_provider) OSSL_PROVIDER_unload(legacy_provider);
        if (default_provider) OSSL_PROVIDER_unload(default_provider);
        OSSL_LIB_CTX_free(ctx);
    }
};

namespace {

std::once_flag legacy_once;
const LegacyCrypto* legacy_instance = nullptr;
std::string legacy_reason;

std::string drain_errors() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (out.empty()) out = buf;
    }
    return out;
}

}  // namespace

LegacyCrypto::LegacyCrypto(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LegacyCrypto::~LegacyCrypto() = default;

const LegacyCrypto* LegacyCrypto::get() {
    std::call_once(legacy_once, [] {
        auto impl = std::make_unique<Impl>();
        impl->ctx = OSSL_LIB_CTX_new();
        if (impl->ctx) {
            impl->default_provider = OSSL_PROVIDER_load(impl->ctx, "default");
            impl->legacy_provider = OSSL_PROVIDER_load(impl->ctx, "legacy");
        }
        if (!impl->ctx || !impl->default_provider || !impl->legacy_provider) {
            legacy_reason = "OpenSSL's legacy provider (MD4, RC4) cannot be loaded: " + drain_errors();
            return;
        }
        impl->md4 = EVP_MD_fetch(impl->ctx, "MD4", nullptr);
        impl->md5 = EVP_MD_fetch(impl->ctx, "MD5", nullptr);
        impl->hmac = EVP_MAC_fetch(impl->ctx, "HMAC", nullptr);
        impl->rc4 = EVP_CIPHER_fetch(impl->ctx, "RC4", nullptr);
        if (!impl->md4 || !impl->md5 || !impl->hmac || !impl->rc4) {
            legacy_reason = "MD4, MD5, HMAC or RC4 is missing from OpenSSL's default and legacy providers: " + drain_errors();
            return;
        }
        legacy_instance = new LegacyCrypto(std::move(impl));  // for the process's lifetime
    });
    ERR_clear_error();
    return legacy_instance;
}

std::string LegacyCrypto::unavailable_reason() {
    get();
    return legacy_reason;
}

Bytes LegacyCrypto::md4(std::span<const std::uint8_t> data) const {
    Bytes out(16);
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &n, impl_->md4, nullptr) != 1) return {};
    return out;
}

Bytes LegacyCrypto::md5(std::span<const std::uint8_t> data) const {
    Bytes out(16);
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &n, impl_->md5, nullptr) != 1) return {};
    return out;
}

Bytes LegacyCrypto::hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const {
    Bytes out(16);
    EVP_MAC_CTX* m = EVP_MAC_CTX_new(impl_->hmac);
    if (!m) return {};
    char digest[] = "MD5";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    std::size_t n = 0;
    const bool ok = EVP_MAC_init(m, key.data(), key.size(), params) == 1 && EVP_MAC_update(m, data.data(), data.size()) == 1 &&
                    EVP_MAC_final(m, out.data(), &n, out.size()) == 1 && n == 16;
    EVP_MAC_CTX_free(m);
    if (!ok) return {};
    return out;
}

Bytes LegacyCrypto::rc4(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const {
    Bytes out(data.size() + 16);
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    if (!c) return {};
    int n = 0, tail = 0;
    const OSSL_PARAM params[] = {OSSL_PARAM_END};
    bool ok = EVP_EncryptInit_ex2(c, impl_->rc4, nullptr, nullptr, params) == 1 &&
              EVP_CIPHER_CTX_set_key_length(c, static_cast<int>(key.size())) == 1 &&
              EVP_EncryptInit_ex2(c, nullptr, key.data(), nullptr, nullptr) == 1 &&
              EVP_EncryptUpdate(c, out.data(), &n, data.data(), static_cast<int>(data.size())) == 1 &&
              EVP_EncryptFinal_ex(c, out.data() + n, &tail) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) return {};
    out.resize(static_cast<std::size_t>(n + tail));
    return out;
}

}  // namespace ward::exchange::ntlm
