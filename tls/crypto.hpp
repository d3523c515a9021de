// SPDX-License-Identifier: Apache-2.0
#pragma once
// The few primitives ward uses outside TLS itself: HMAC-SHA256 (flow tokens, the cluster's ticket
// seal), PBKDF2-HMAC-SHA256 (admin passwords), AES-256-GCM (the sealed ticket keys), SHA-1 (the
// WebSocket accept value), random bytes and cleansing. One implementation per TLS flavour
// (crypto_openssl.cpp, crypto_wolfssl.cpp); in the OpenSSL flavour every call goes through the
// default library context, so in FIPS mode the FIPS provider serves it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ward::crypto {

using Bytes = std::span<const unsigned char>;
using Sha256 = std::array<unsigned char, 32>;

inline Bytes bytes(std::string_view s) { return {reinterpret_cast<const unsigned char*>(s.data()), s.size()}; }

// HMAC-SHA256 over the concatenation of `parts`; nullopt when the library refuses (never a
// partial value).
std::optional<Sha256> hmac_sha256(Bytes key, std::initializer_list<Bytes> parts);

// PBKDF2 with HMAC-SHA256; `size` bytes of key, nullopt when refused (in FIPS mode: a salt under
// 128 bits, a key under 112 bits).
std::optional<std::string> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                         std::size_t size);

inline constexpr std::size_t kGcmIv = 12;
inline constexpr std::size_t kGcmTag = 16;

// AES-256-GCM with a fresh random IV: `out` becomes IV || ciphertext || tag.
bool aes_256_gcm_seal(std::span<const unsigned char, 32> key, Bytes aad, Bytes plain, std::string& out);
// The reverse of aes_256_gcm_seal into `plain` (exactly sealed.size() - IV - tag bytes); false
// when the tag does not verify (nothing of `plain` is then meaningful).
bool aes_256_gcm_open(std::span<const unsigned char, 32> key, Bytes aad, Bytes sealed, std::span<unsigned char> plain);

std::optional<std::array<unsigned char, 20>> sha1(Bytes data);
std::optional<Sha256> sha256(Bytes data);

// Fills `out` from the library's DRBG; false when it cannot.
bool random_bytes(std::span<unsigned char> out);

// Zeroes memory in a way the compiler keeps.
void cleanse(void* p, std::size_t n);

// Compares in time independent of the contents.
bool equal(Bytes a, Bytes b);

}  // namespace ward::crypto
