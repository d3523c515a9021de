// SPDX-License-Identifier: Apache-2.0
#include "sip/flow_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace ward::sip {

namespace {

constexpr std::size_t kIdSize = 3;
constexpr std::size_t kKindSize = 1;
constexpr std::size_t kFlowSize = 8;
constexpr std::size_t kMacSize = 16;
constexpr std::size_t kSealed = kIdSize + kKindSize + kFlowSize;   // what the MAC covers, before the scope
constexpr std::size_t kRawSize = kSealed + kMacSize;  // 28 bytes, 38 characters unpadded

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

std::string encode(const unsigned char* data, std::size_t size) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

// Exactly kRawSize bytes from exactly kLength characters, the unused low bits zero (so one
// token has one spelling).
bool decode(std::string_view text, std::array<unsigned char, kRawSize>& out) {
    if (text.size() != FlowTokens::kLength) return false;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t n = 0;
    for (const char c : text) {
        const int v = decode_char(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == kRawSize) return false;
            out[n++] = static_cast<unsigned char>((acc >> bits) & 0xff);
        }
    }
    return n == kRawSize && (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace

FlowTokens::FlowTokens(std::chrono::seconds rotation) : rotation_(rotation) {}

FlowTokens::~FlowTokens() {
    EVP_MAC_free(mac_);
    OPENSSL_cleanse(&current_, sizeof current_);
    OPENSSL_cleanse(&previous_, sizeof previous_);
}

FlowTokens& FlowTokens::process() {
    static FlowTokens tokens;
    return tokens;
}

void FlowTokens::rotate_if_due(clock::time_point now) {
    if (current_.valid && now - current_.created < rotation_) return;
    Key fresh;
    if (RAND_bytes(fresh.id.data(), static_cast<int>(fresh.id.size())) != 1 ||
        RAND_bytes(fresh.secret.data(), static_cast<int>(fresh.secret.size())) != 1)
        throw std::runtime_error("no random bytes for a flow token key");
    fresh.created = now;
    fresh.valid = true;
    OPENSSL_cleanse(&previous_, sizeof previous_);
    previous_ = current_;
    current_ = fresh;
    OPENSSL_cleanse(&fresh, sizeof fresh);
}

std::string FlowTokens::seal(const Key& key, Kind kind, std::uint64_t flow, std::string_view scope) {
    std::array<unsigned char, kRawSize> raw{};
    std::memcpy(raw.data(), key.id.data(), kIdSize);
    raw[kIdSize] = static_cast<unsigned char>(kind);
    for (std::size_t i = 0; i < kFlowSize; ++i)
        raw[kIdSize + kKindSize + i] = static_cast<unsigned char>(flow >> (8 * (kFlowSize - 1 - i)));
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t mac_size = 0;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    EVP_MAC_CTX* ctx = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    const bool ok = ctx && EVP_MAC_init(ctx, key.secret.data(), key.secret.size(), params) &&
                    EVP_MAC_update(ctx, raw.data(), kSealed) &&
                    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(scope.data()), scope.size()) &&
                    EVP_MAC_final(ctx, mac, &mac_size, sizeof mac) && mac_size >= kMacSize;
    EVP_MAC_CTX_free(ctx);
    if (!ok) throw std::runtime_error("HMAC-SHA256 failed for a flow token");
    std::memcpy(raw.data() + kSealed, mac, kMacSize);
    OPENSSL_cleanse(mac, sizeof mac);
    return encode(raw.data(), raw.size());
}

// The lock covers the keys only: a copy is taken, the MAC computed outside it, the copy cleansed.
FlowTokens::Key FlowTokens::key_for_use(const std::array<unsigned char, 3>* id, clock::time_point& now) {
    std::lock_guard lock(mutex_);
    // (Fetched once, after the security mode is active: in FIPS mode from the FIPS provider.)
    if (!mac_) mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    now = clock::now() + offset_;
    rotate_if_due(now);
    if (!id) return current_;
    for (const Key* key : {&current_, &previous_})
        if (key->valid && key->id == *id) return *key;
    return Key{};
}

std::string FlowTokens::make(Kind kind, std::uint64_t flow, std::string_view scope) {
    clock::time_point now;
    Key key = key_for_use(nullptr, now);
    auto token = seal(key, kind, flow, kind == Kind::dialog ? scope : std::string_view{});
    OPENSSL_cleanse(&key, sizeof key);
    return token;
}

std::optional<FlowTokens::Verified> FlowTokens::verify(std::string_view token, std::string_view scope) {
    std::array<unsigned char, kRawSize> raw{};
    if (!decode(token, raw)) return std::nullopt;
    const auto kind = static_cast<Kind>(raw[kIdSize]);
    if (kind != Kind::path && kind != Kind::dialog) return std::nullopt;
    std::uint64_t flow = 0;
    for (std::size_t i = 0; i < kFlowSize; ++i) flow = (flow << 8) | raw[kIdSize + kKindSize + i];
    std::array<unsigned char, kIdSize> id{};
    std::memcpy(id.data(), raw.data(), kIdSize);
    clock::time_point now;
    Key key = key_for_use(&id, now);
    std::optional<Verified> out;
    if (key.valid && now - key.created < 2 * rotation_) {
        const auto expected = seal(key, kind, flow, kind == Kind::dialog ? scope : std::string_view{});
        if (CRYPTO_memcmp(expected.data(), token.data(), kLength) == 0) out = Verified{kind, flow};
    }
    OPENSSL_cleanse(&key, sizeof key);
    return out;
}

void FlowTokens::advance(std::chrono::seconds by) {
    std::lock_guard lock(mutex_);
    offset_ += by;
}

}  // namespace ward::sip
