// SPDX-License-Identifier: Apache-2.0
// Base64 as RFC 4648 writes it (section 10's vectors), the same in both TLS flavours: password
// hashes, etcd's bytes and the cluster's sealed values all go through it.
#include <doctest/doctest.h>

#include <string>

#include "proxy/ops/secrets.hpp"

TEST_CASE("base64: RFC 4648 section 10 - both ways") {
    using ward::ops::base64;
    using ward::ops::from_base64;
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CAPTURE(plain);
        CHECK(base64(plain) == encoded);
        const auto decoded = from_base64(encoded);
        REQUIRE(decoded);
        CHECK(*decoded == plain);
    }
    // Every byte value, and the two alphabet characters past the letters and digits.
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    CHECK(from_base64(base64(all)) == all);
    CHECK(base64("\xfb\xff") == "+/8=");
    CHECK(ward::ops::base64url("\xfb\xff") == "-_8");
}

TEST_CASE("base64: what is not base64 decodes to nothing") {
    using ward::ops::from_base64;
    for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm9v\n", "Zm-v", "Zm_v", "Zm9v YmFy", "Z=9v",
                            "Zm=v"}) {
        CAPTURE(bad);
        CHECK_FALSE(from_base64(bad).has_value());
    }
}
