// SPDX-License-Identifier: Apache-2.0
#pragma once
// The small primitives the admin plane's secrets need, through OpenSSL (the FIPS provider
// when it is the default): random bytes, SHA-256, base64, base64url and hex.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ward::ops {

// `n` bytes from the DRBG; throws only when the DRBG fails (a bug or a broken system).
std::string random_bytes(std::size_t n);
std::string sha256(std::string_view data);  // 32 raw bytes
std::string hex(std::string_view bytes);
std::string sha256_hex(std::string_view data);
std::string base64(std::string_view bytes);
std::optional<std::string> from_base64(std::string_view text);
std::string base64url(std::string_view bytes);  // no padding (tokens in cookies and headers)
// Constant time for equal lengths.
bool equal_secrets(std::string_view a, std::string_view b);

}  // namespace ward::ops
