// SPDX-License-Identifier: Apache-2.0
// ward::crypto on OpenSSL 3: fetched from the default library context, so in FIPS mode (default
// properties "fips=yes") the FIPS provider answers or the call fails.
#include "tls/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

#include "tls/openssl_ptr.hpp"

namespace ward::crypto {

namespace {

template <auto Free>
using Deleter = tls::OpensslDeleter<Free>;

using Mac = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using Kdf = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
using Cipher = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using Md = std::unique_ptr<EVP_MD, Deleter<EVP_MD_free>>;

int length(std::size_t n) { return static_cast<int>(n); }

}  // namespace

std::optional<Sha256> hmac_sha256(Bytes key, std::initializer_list<Bytes> parts) {
    Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    MacCtx ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    bool ok = ctx && EVP_MAC_init(ctx.get(), key.data(), key.size(), params) == 1;
    for (const auto& part : parts) ok = ok && EVP_MAC_update(ctx.get(), part.data(), part.size()) == 1;
    Sha256 out{};
    std::size_t n = 0;
    ok = ok && EVP_MAC_final(ctx.get(), out.data(), &n, out.size()) == 1 && n == out.size();
    ERR_clear_error();
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::string> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                         std::size_t size) {
    Kdf kdf(EVP_KDF_fetch(nullptr, "PBKDF2", nullptr));
    KdfCtx ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
    if (!ctx) {
        ERR_clear_error();
        return std::nullopt;
    }
    char digest[] = "SHA256";
    unsigned int iter = iterations;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()), password.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
        OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    std::string key(size, '\0');
    const int ok = EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(key.data()), key.size(), params);
    ERR_clear_error();
    if (ok != 1) return std::nullopt;
    return key;
}

bool aes_256_gcm_seal(std::span<const unsigned char, 32> key, Bytes aad, Bytes plain, std::string& out) {
    out.assign(kGcmIv + plain.size() + kGcmTag, '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    Cipher cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0, tail = 0;
    const bool ok = cipher && ctx && RAND_bytes(bytes, length(kGcmIv)) == 1 &&
                    EVP_EncryptInit_ex(ctx.get(), cipher.get(), nullptr, key.data(), bytes) == 1 &&
                    EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad.data(), length(aad.size())) == 1 &&
                    EVP_EncryptUpdate(ctx.get(), bytes + kGcmIv, &n, plain.data(), length(plain.size())) == 1 &&
                    n == length(plain.size()) && EVP_EncryptFinal_ex(ctx.get(), bytes + kGcmIv + n, &tail) == 1 &&
                    tail == 0 &&
                    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, length(kGcmTag), bytes + kGcmIv + plain.size()) == 1;
    ERR_clear_error();
    if (!ok) out.clear();
    return ok;
}

bool aes_256_gcm_open(std::span<const unsigned char, 32> key, Bytes aad, Bytes sealed, std::span<unsigned char> plain) {
    if (sealed.size() < kGcmIv + kGcmTag || plain.size() != sealed.size() - kGcmIv - kGcmTag) return false;
    Cipher cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    // The tag is set before the final call, which checks it; a const_cast because the ctrl
    // interface takes a void* it only reads for SET_TAG.
    auto* tag = const_cast<unsigned char*>(sealed.data() + kGcmIv + plain.size());
    int n = 0, tail = 0;
    const bool ok = cipher && ctx && EVP_DecryptInit_ex(ctx.get(), cipher.get(), nullptr, key.data(), sealed.data()) == 1 &&
                    EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad.data(), length(aad.size())) == 1 &&
                    EVP_DecryptUpdate(ctx.get(), plain.data(), &n, sealed.data() + kGcmIv, length(plain.size())) == 1 &&
                    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, length(kGcmTag), tag) == 1 &&
                    EVP_DecryptFinal_ex(ctx.get(), plain.data() + n, &tail) == 1;
    ERR_clear_error();
    return ok;
}

std::optional<std::array<unsigned char, 20>> sha1(Bytes data) {
    // SHA-1 here is a fixed transform (the WebSocket handshake), not a signature: the FIPS
    // provider has it.
    Md md(EVP_MD_fetch(nullptr, "SHA1", nullptr));
    std::array<unsigned char, 20> out{};
    unsigned int n = 0;
    const bool ok = md && EVP_Digest(data.data(), data.size(), out.data(), &n, md.get(), nullptr) == 1 && n == out.size();
    ERR_clear_error();
    if (!ok) return std::nullopt;
    return out;
}

std::optional<Sha256> sha256(Bytes data) {
    Md md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    Sha256 out{};
    unsigned int n = 0;
    const bool ok = md && EVP_Digest(data.data(), data.size(), out.data(), &n, md.get(), nullptr) == 1 && n == out.size();
    ERR_clear_error();
    if (!ok) return std::nullopt;
    return out;
}

bool random_bytes(std::span<unsigned char> out) {
    return RAND_bytes(out.data(), length(out.size())) == 1;
}

void cleanse(void* p, std::size_t n) { OPENSSL_cleanse(p, n); }

bool equal(Bytes a, Bytes b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace ward::crypto
