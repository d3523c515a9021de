// SPDX-License-Identifier: Apache-2.0
#pragma once
// The wolfSSL flavour's AES context holder: freed (and wiped by wolfCrypt) on every path.
#include <wolfssl/wolfcrypt/aes.h>

namespace ward::crypto {

struct WolfAes {
    ::Aes aes{};
    bool ready = false;
    WolfAes() { ready = wc_AesInit(&aes, nullptr, INVALID_DEVID) == 0; }
    ~WolfAes() {
        if (ready) wc_AesFree(&aes);
    }
    WolfAes(const WolfAes&) = delete;
    WolfAes& operator=(const WolfAes&) = delete;
};

}  // namespace ward::crypto
