// SPDX-License-Identifier: Apache-2.0
// ward::crypto on wolfCrypt's own API (the wolfSSL flavour).
#include "tls/crypto.hpp"

#include <string.h>  // explicit_bzero

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <climits>

#include "tls/wolfcrypt_aes.hpp"

namespace ward::crypto {

namespace {

bool fits(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

}  // namespace

std::optional<Sha256> hmac_sha256(Bytes key, std::initializer_list<Bytes> parts) {
    if (!fits(key.size())) return std::nullopt;
    Hmac hmac{};
    if (wc_HmacInit(&hmac, nullptr, INVALID_DEVID) != 0) return std::nullopt;
    bool ok = wc_HmacSetKey(&hmac, WC_SHA256, key.data(), static_cast<word32>(key.size())) == 0;
    for (const auto& part : parts)
        ok = ok && fits(part.size()) && wc_HmacUpdate(&hmac, part.data(), static_cast<word32>(part.size())) == 0;
    Sha256 out{};
    ok = ok && wc_HmacFinal(&hmac, out.data()) == 0;
    wc_HmacFree(&hmac);
    explicit_bzero(&hmac, sizeof hmac);
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::string> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                         std::size_t size) {
    if (!fits(password.size()) || !fits(salt.size()) || !fits(size) || iterations == 0 || iterations > INT_MAX)
        return std::nullopt;
    std::string key(size, '\0');
    if (wc_PBKDF2(reinterpret_cast<byte*>(key.data()), reinterpret_cast<const byte*>(password.data()),
                  static_cast<int>(password.size()), reinterpret_cast<const byte*>(salt.data()),
                  static_cast<int>(salt.size()), static_cast<int>(iterations), static_cast<int>(size), WC_SHA256) != 0)
        return std::nullopt;
    return key;
}

bool aes_256_gcm_seal(std::span<const unsigned char, 32> key, Bytes aad, Bytes plain, std::string& out) {
    if (!fits(plain.size()) || !fits(aad.size())) return false;
    out.assign(kGcmIv + plain.size() + kGcmTag, '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    WolfAes aes;
    const bool ok = aes.ready && random_bytes({bytes, kGcmIv}) &&
                    wc_AesGcmSetKey(&aes.aes, key.data(), static_cast<word32>(key.size())) == 0 &&
                    wc_AesGcmEncrypt(&aes.aes, bytes + kGcmIv, plain.data(), static_cast<word32>(plain.size()), bytes,
                                     kGcmIv, bytes + kGcmIv + plain.size(), kGcmTag, aad.data(),
                                     static_cast<word32>(aad.size())) == 0;
    if (!ok) out.clear();
    return ok;
}

bool aes_256_gcm_open(std::span<const unsigned char, 32> key, Bytes aad, Bytes sealed, std::span<unsigned char> plain) {
    if (sealed.size() < kGcmIv + kGcmTag || plain.size() != sealed.size() - kGcmIv - kGcmTag || !fits(sealed.size()) ||
        !fits(aad.size()))
        return false;
    WolfAes aes;
    return aes.ready && wc_AesGcmSetKey(&aes.aes, key.data(), static_cast<word32>(key.size())) == 0 &&
           wc_AesGcmDecrypt(&aes.aes, plain.data(), sealed.data() + kGcmIv, static_cast<word32>(plain.size()),
                            sealed.data(), kGcmIv, sealed.data() + kGcmIv + plain.size(), kGcmTag, aad.data(),
                            static_cast<word32>(aad.size())) == 0;
}

std::optional<std::array<unsigned char, 20>> sha1(Bytes data) {
    std::array<unsigned char, 20> out{};
    if (!fits(data.size()) || wc_ShaHash(data.data(), static_cast<word32>(data.size()), out.data()) != 0)
        return std::nullopt;
    return out;
}

std::optional<Sha256> sha256(Bytes data) {
    Sha256 out{};
    if (!fits(data.size()) || wc_Sha256Hash(data.data(), static_cast<word32>(data.size()), out.data()) != 0)
        return std::nullopt;
    return out;
}

bool random_bytes(std::span<unsigned char> out) {
    return fits(out.size()) && RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

void cleanse(void* p, std::size_t n) { explicit_bzero(p, n); }

bool equal(Bytes a, Bytes b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace ward::crypto
