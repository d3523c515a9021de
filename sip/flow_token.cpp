// SPDX-License-Identifier: Apache-2.0
#include "sip/flow_token.hpp"

#include "tls/crypto.hpp"

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
    crypto::cleanse(&current_, sizeof current_);
    crypto::cleanse(&previous_, sizeof previous_);
}

FlowTokens& FlowTokens::process() {
    static FlowTokens tokens;
    return tokens;
}

void FlowTokens::rotate_if_due(clock::time_point now) {
    if (current_.valid && now - current_.created < rotation_) return;
    Key fresh;
    if (!crypto::random_bytes(fresh.id) || !crypto::random_bytes(fresh.secret))
        throw std::runtime_error("no random bytes for a flow token key");
    fresh.created = now;
    fresh.valid = true;
    crypto::cleanse(&previous_, sizeof previous_);
    previous_ = current_;
    current_ = fresh;
    crypto::cleanse(&fresh, sizeof fresh);
}

std::string FlowTokens::seal(const Key& key, Kind kind, std::uint64_t flow, std::string_view scope) {
    std::array<unsigned char, kRawSize> raw{};
    std::memcpy(raw.data(), key.id.data(), kIdSize);
    raw[kIdSize] = static_cast<unsigned char>(kind);
    for (std::size_t i = 0; i < kFlowSize; ++i)
        raw[kIdSize + kKindSize + i] = static_cast<unsigned char>(flow >> (8 * (kFlowSize - 1 - i)));
    auto mac = crypto::hmac_sha256(key.secret, {crypto::Bytes(raw.data(), kSealed), crypto::bytes(scope)});
    if (!mac) throw std::runtime_error("HMAC-SHA256 failed for a flow token");
    static_assert(kMacSize <= std::tuple_size_v<crypto::Sha256>);
    std::memcpy(raw.data() + kSealed, mac->data(), kMacSize);
    crypto::cleanse(mac->data(), mac->size());
    return encode(raw.data(), raw.size());
}

// The lock covers the keys only: a copy is taken, the MAC computed outside it, the copy cleansed.
FlowTokens::Key FlowTokens::key_for_use(const std::array<unsigned char, 3>* id, clock::time_point& now) {
    std::lock_guard lock(mutex_);
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
    crypto::cleanse(&key, sizeof key);
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
        if (crypto::equal(crypto::bytes(expected), crypto::bytes(token.substr(0, kLength)))) out = Verified{kind, flow};
    }
    crypto::cleanse(&key, sizeof key);
    return out;
}

void FlowTokens::advance(std::chrono::seconds by) {
    std::lock_guard lock(mutex_);
    offset_ += by;
}

}  // namespace ward::sip
