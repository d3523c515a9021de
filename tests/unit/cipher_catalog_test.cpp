// SPDX-License-Identifier: Apache-2.0
// The cipher catalog: what the linked library offers, both names, and each mode's rules.
#include <doctest/doctest.h>

#include "tls/cipher_catalog.hpp"
#include "tls/security_policy.hpp"

using ward::config::SecurityMode;
using ward::tls::CipherCatalog;

TEST_CASE("catalog: ciphers are found by OpenSSL and by IANA name - case-insensitively") {
    const auto& catalog = CipherCatalog::instance();
    const auto* a = catalog.find("ECDHE-ECDSA-AES128-GCM-SHA256");
    const auto* b = catalog.find("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    const auto* c = catalog.find("ecdhe-ecdsa-aes128-gcm-sha256");
    REQUIRE(a);
    CHECK(a == b);
    CHECK(a == c);
    CHECK_FALSE(a->tls13);
    CHECK(a->id == 0xC02B);
    CHECK(a->kx == "ECDHE");
    CHECK(a->auth == "ECDSA");
    CHECK(a->cipher == "AES-128-GCM");
    CHECK(a->mac == "AEAD");
    const auto* suite = catalog.find("TLS_AES_256_GCM_SHA384");
    REQUIRE(suite);
    CHECK(suite->tls13);
    CHECK(suite->id == 0x1302);
    CHECK_FALSE(catalog.find("FOO"));
    CHECK_FALSE(catalog.find("ECDHE-ECDSA-AES128-GCM-SHA25"));
    // Every TLS 1.3 suite OpenSSL 3.0 implements is listed (wolfSSL is built with them all too).
    for (auto name : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                      "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"})
        CHECK_MESSAGE(catalog.find(name), name);
}

TEST_CASE("catalog: each mode allows what its rules say and explains what it refuses") {
    const auto& catalog = CipherCatalog::instance();
    auto allowed = [&](const char* name, SecurityMode mode, std::string* why = nullptr) {
        const auto* c = catalog.find(name);
        REQUIRE_MESSAGE(c, name);
        return CipherCatalog::allowed(*c, mode, why);
    };
    std::string why;
    CHECK(allowed("TLS_CHACHA20_POLY1305_SHA256", SecurityMode::standard));
    CHECK_FALSE(allowed("TLS_CHACHA20_POLY1305_SHA256", SecurityMode::fips, &why));
    CHECK(why == "ChaCha20-Poly1305 is not a FIPS-approved cipher");
    CHECK(allowed("TLS_AES_128_GCM_SHA256", SecurityMode::enhanced));
    CHECK_FALSE(allowed("TLS_AES_128_GCM_SHA256", SecurityMode::common_criteria, &why));
    CHECK(why == "common-criteria mode allows AES-256-GCM suites only (CNSA), not AES-128-GCM");
    CHECK(allowed("TLS_AES_256_GCM_SHA384", SecurityMode::common_criteria));
    CHECK(allowed("ECDHE-RSA-AES256-GCM-SHA384", SecurityMode::common_criteria));
    // Suites not every library builds in (wolfSSL leaves out static RSA, anonymous and PSK
    // suites), described as OpenSSL describes them.
    auto described = [](const char* name, const char* kx, const char* auth, const char* cipher, int bits) {
        ward::tls::CipherInfo c;
        c.openssl_name = name;
        c.kx = kx;
        c.auth = auth;
        c.cipher = cipher;
        c.mac = "AEAD";
        c.bits = bits;
        return c;
    };
    const auto rsa_transport = described("AES256-GCM-SHA384", "RSA", "RSA", "AES-256-GCM", 256);
    CHECK(CipherCatalog::allowed(rsa_transport, SecurityMode::standard));
    CHECK_FALSE(CipherCatalog::allowed(rsa_transport, SecurityMode::fips, &why));
    CHECK(why == "RSA key transport has no forward secrecy and is not allowed in fips mode");
    CHECK_FALSE(CipherCatalog::allowed(described("ADH-AES256-GCM-SHA384", "DH", "none", "AES-256-GCM", 256),
                                       SecurityMode::standard, &why));
    CHECK(why == "it has no authentication (anonymous key exchange)");
    CHECK_FALSE(CipherCatalog::allowed(described("PSK-AES128-GCM-SHA256", "PSK", "PSK", "AES-128-GCM", 128),
                                       SecurityMode::standard, &why));
    CHECK(why == "pre-shared-key and SRP ciphers need credentials ward does not configure");
    // Whatever the library has of them is in no mode's list.
    for (const auto* c : catalog.available(SecurityMode::standard)) {
        CHECK_MESSAGE(c->auth != "none", c->openssl_name);
        CHECK_MESSAGE(c->kx != "PSK", c->openssl_name);
    }

    // Defaults are all allowed in their own mode, and the modes nest.
    for (auto mode : {SecurityMode::standard, SecurityMode::fips, SecurityMode::enhanced, SecurityMode::common_criteria})
        for (const auto& name : CipherCatalog::defaults(mode)) CHECK_MESSAGE(allowed(name.c_str(), mode), name);
    CHECK(catalog.available(SecurityMode::common_criteria).size() < catalog.available(SecurityMode::fips).size());
    CHECK(catalog.available(SecurityMode::fips).size() < catalog.available(SecurityMode::standard).size());
}

TEST_CASE("catalog: RC4 is refused in every mode whatever strength a library gives it") {
    // (wolfSSL built with RC4 for NTLM compiles RC4 suites in; OpenSSL 3 offers none.)
    ward::tls::CipherInfo rc4;
    rc4.openssl_name = "ECDHE-RSA-RC4-SHA";
    rc4.iana_name = "TLS_ECDHE_RSA_WITH_RC4_128_SHA";
    rc4.kx = "ECDHE";
    rc4.auth = "RSA";
    rc4.cipher = "RC4";
    rc4.mac = "SHA1";
    rc4.bits = 128;
    for (auto mode : {SecurityMode::standard, SecurityMode::fips, SecurityMode::enhanced, SecurityMode::common_criteria}) {
        std::string why;
        CHECK_FALSE(CipherCatalog::allowed(rc4, mode, &why));
        CHECK(why == "RC4 is broken and prohibited in TLS (RFC 7465)");
    }
}

TEST_CASE("policy: groups per mode") {
    using ward::tls::SecurityPolicy;
    CHECK_FALSE(SecurityPolicy(SecurityMode::standard).check_group("X25519"));
    CHECK(SecurityPolicy(SecurityMode::fips).check_group("X25519") ==
          "'X25519' is not allowed in fips mode: approved groups are P-256, P-384, P-521 and ffdhe2048 or larger");
    CHECK_FALSE(SecurityPolicy(SecurityMode::fips).check_group("ffdhe3072"));
    CHECK(SecurityPolicy(SecurityMode::common_criteria).check_group("ffdhe3072"));
    CHECK_FALSE(SecurityPolicy(SecurityMode::common_criteria).check_group("P-384"));
    CHECK(SecurityPolicy(SecurityMode::standard).check_group("brainpoolP256r1"));
}
