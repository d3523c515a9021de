// SPDX-License-Identifier: Apache-2.0
// ward::crypto against published vectors, so both TLS flavours' implementations answer alike.
#include <doctest/doctest.h>

#include <string>

#include "tls/crypto.hpp"

namespace {

std::string hex(ward::crypto::Bytes b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string hex(std::string_view s) { return hex(ward::crypto::bytes(s)); }

}  // namespace

TEST_CASE("crypto: HMAC-SHA256 gives RFC 4231's test case 2 - in one part or several") {
    using namespace ward::crypto;
    const auto whole = hmac_sha256(bytes("Jefe"), {bytes("what do ya want for nothing?")});
    REQUIRE(whole);
    CHECK(hex(*whole) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    const auto parts = hmac_sha256(bytes("Jefe"), {bytes("what do ya "), bytes(""), bytes("want for nothing?")});
    REQUIRE(parts);
    CHECK(*parts == *whole);
}

TEST_CASE("crypto: PBKDF2-HMAC-SHA256 gives the published vector for password and salt") {
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
    const auto key = ward::crypto::pbkdf2_sha256("passwd", "salt", 1, 64);
    REQUIRE(key);
    CHECK(hex(*key) ==
          "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
          "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST_CASE("crypto: SHA-1 and SHA-256 give FIPS 180's abc vectors") {
    const auto d = ward::crypto::sha1(ward::crypto::bytes("abc"));
    REQUIRE(d);
    CHECK(hex(*d) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    const auto d256 = ward::crypto::sha256(ward::crypto::bytes("abc"));
    REQUIRE(d256);
    CHECK(hex(*d256) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("crypto: AES-256-GCM opens what it sealed and nothing altered") {
    using namespace ward::crypto;
    std::array<unsigned char, 32> key{};
    REQUIRE(random_bytes(key));
    const std::string plain = "three ticket keys";
    std::string sealed, again;
    REQUIRE(aes_256_gcm_seal(key, bytes("where"), bytes(plain), sealed));
    REQUIRE(aes_256_gcm_seal(key, bytes("where"), bytes(plain), again));
    CHECK(sealed.size() == kGcmIv + plain.size() + kGcmTag);
    CHECK(sealed != again);  // a fresh IV each time
    std::string out(plain.size(), '\0');
    auto into = std::span(reinterpret_cast<unsigned char*>(out.data()), out.size());
    REQUIRE(aes_256_gcm_open(key, bytes("where"), bytes(sealed), into));
    CHECK(out == plain);
    CHECK_FALSE(aes_256_gcm_open(key, bytes("elsewhere"), bytes(sealed), into));
    for (std::size_t at : {std::size_t{0}, kGcmIv, sealed.size() - 1}) {
        std::string flipped = sealed;
        flipped[at] = static_cast<char>(flipped[at] ^ 1);
        CHECK_FALSE(aes_256_gcm_open(key, bytes("where"), bytes(flipped), into));
    }
    std::array<unsigned char, 32> other = key;
    other[0] ^= 1;
    CHECK_FALSE(aes_256_gcm_open(other, bytes("where"), bytes(sealed), into));
    std::string short_out(plain.size() - 1, '\0');
    CHECK_FALSE(aes_256_gcm_open(key, bytes("where"), bytes(sealed),
                                 std::span(reinterpret_cast<unsigned char*>(short_out.data()), short_out.size())));
}

TEST_CASE("crypto: equal compares contents and lengths") {
    using ward::crypto::bytes;
    CHECK(ward::crypto::equal(bytes("abc"), bytes("abc")));
    CHECK_FALSE(ward::crypto::equal(bytes("abc"), bytes("abd")));
    CHECK_FALSE(ward::crypto::equal(bytes("abc"), bytes("ab")));
}
