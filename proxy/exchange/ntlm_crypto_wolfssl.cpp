// SPDX-License-Identifier: Apache-2.0
// NTLM's legacy algorithms on wolfCrypt (built with md4 and arc4 for this; the wolfSSL flavour
// has no FIPS mode, so nothing here runs beside a FIPS module).
#include "proxy/exchange/ntlm.hpp"

#include <string.h>  // explicit_bzero

#include <wolfssl/wolfcrypt/arc4.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/md4.h>

#include <climits>

namespace ward::exchange::ntlm {

namespace {

bool fits(std::size_t n) { return n <= static_cast<std::size_t>(UINT_MAX >> 1); }

}  // namespace

struct LegacyCrypto::Impl {};

LegacyCrypto::LegacyCrypto(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LegacyCrypto::~LegacyCrypto() = default;

const LegacyCrypto* LegacyCrypto::get() {
    static const LegacyCrypto instance(std::make_unique<Impl>());
    return &instance;
}

std::string LegacyCrypto::unavailable_reason() { return {}; }

Bytes LegacyCrypto::md4(std::span<const std::uint8_t> data) const {
    if (!fits(data.size())) return {};
    Md4 md4{};
    wc_InitMd4(&md4);
    wc_Md4Update(&md4, data.data(), static_cast<word32>(data.size()));
    Bytes out(16);
    wc_Md4Final(&md4, out.data());
    explicit_bzero(&md4, sizeof md4);
    return out;
}

Bytes LegacyCrypto::md5(std::span<const std::uint8_t> data) const {
    Bytes out(16);
    if (!fits(data.size()) || wc_Md5Hash(data.data(), static_cast<word32>(data.size()), out.data()) != 0) return {};
    return out;
}

Bytes LegacyCrypto::hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const {
    if (!fits(key.size()) || !fits(data.size())) return {};
    Hmac hmac{};
    if (wc_HmacInit(&hmac, nullptr, INVALID_DEVID) != 0) return {};
    Bytes out(16);
    const bool ok = wc_HmacSetKey(&hmac, WC_MD5, key.data(), static_cast<word32>(key.size())) == 0 &&
                    wc_HmacUpdate(&hmac, data.data(), static_cast<word32>(data.size())) == 0 &&
                    wc_HmacFinal(&hmac, out.data()) == 0;
    wc_HmacFree(&hmac);
    explicit_bzero(&hmac, sizeof hmac);
    if (!ok) return {};
    return out;
}

Bytes LegacyCrypto::rc4(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const {
    if (!fits(key.size()) || !fits(data.size())) return {};
    Arc4 arc4{};
    if (wc_Arc4Init(&arc4, nullptr, INVALID_DEVID) != 0) return {};
    Bytes out(data.size());
    const bool ok = wc_Arc4SetKey(&arc4, key.data(), static_cast<word32>(key.size())) == 0 &&
                    wc_Arc4Process(&arc4, out.data(), data.data(), static_cast<word32>(data.size())) == 0;
    wc_Arc4Free(&arc4);
    explicit_bzero(&arc4, sizeof arc4);
    if (!ok) return {};
    return out;
}

}  // namespace ward::exchange::ntlm
