// SPDX-License-Identifier: Apache-2.0
// NTLMv2 while the FIPS provider is the process default (security.mode: fips): MD4, HMAC-MD5
// and RC4 are refused by the default library context, and ward's NTLM computes the MS-NLMP
// 4.2.4 values anyway, in its own library context (proxy/exchange/ntlm.hpp), leaving the default
// context FIPS-only.
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "proxy/exchange/ntlm.hpp"
#include "tls/fips_provider.hpp"

namespace {

std::string hex(const ward::exchange::ntlm::Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto c : b) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

}  // namespace

TEST_CASE("fips ntlm: NTOWFv2 and the session key in a library context of their own while the default is FIPS-only") {
    const char* env = std::getenv("WARD_FIPS_MODULE_DIR");
    const std::string dir = env && *env ? env : ward::tls::kDefaultFipsModuleDir;
    REQUIRE_MESSAGE(ward::tls::load_fips_provider(dir).empty(), "the FIPS provider is needed here");
    REQUIRE(ward::tls::fips_provider_active());
    // The default context refuses what NTLM needs.
    for (const char* name : {"MD4", "MD5"}) {
        EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
        CHECK_MESSAGE(md == nullptr, name);
        EVP_MD_free(md);
    }
    EVP_CIPHER* rc4 = EVP_CIPHER_fetch(nullptr, "RC4", nullptr);
    CHECK(rc4 == nullptr);
    EVP_CIPHER_free(rc4);
    ERR_clear_error();

    namespace ntlm = ward::exchange::ntlm;
    const auto* crypto = ntlm::LegacyCrypto::get();
    REQUIRE_MESSAGE(crypto != nullptr, ntlm::LegacyCrypto::unavailable_reason());
    const auto key = ntlm::ntowf_v2(*crypto, "User", "Password", "Domain");
    REQUIRE(key);
    CHECK(hex(*key) == "0c868a403bfd7a93a3001ef22ef02e3f");
    const ntlm::Bytes nt_proof = {0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c};
    CHECK(hex(crypto->hmac_md5(*key, nt_proof)) == "8de40ccadbc14a82f15cb0ad0de95ca3");
    const ntlm::Bytes session_key(16, 0x55);
    CHECK(hex(crypto->rc4(crypto->hmac_md5(*key, nt_proof), session_key)) == "c5dad2544fc9799094ce1ce90bc9d03e");
    // And the default context is still FIPS-only afterwards.
    CHECK(ward::tls::fips_provider_active());
    EVP_MD* md4 = EVP_MD_fetch(nullptr, "MD4", nullptr);
    CHECK(md4 == nullptr);
    EVP_MD_free(md4);
    ERR_clear_error();
}
