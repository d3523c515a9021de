// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP authentication as the Exchange egress needs it (RFC 9110 section 11, MS-NTHT, RFC 4559,
// RFC 7617): the challenges in a 401's WWW-Authenticate fields, NTLM tokens in Authorization
// (under the NTLM or the Negotiate scheme), Basic credentials, and the credentials file.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/exchange/ntlm.hpp"

namespace ward::exchange {

// One challenge: the scheme, lower-cased, and its token68 (NTLM and Negotiate carry their
// messages that way) when it has one.
struct Offer {
    std::string scheme;
    std::string token;
};

// Every challenge in the WWW-Authenticate field values (each may list several, separated by
// commas; auth-params and quoted strings are skipped).
std::vector<Offer> parse_challenges(const std::vector<std::string_view>& values);

// The scheme NTLM runs under: "NTLM" when offered, else "Negotiate" (whose acceptors take a raw
// NTLMSSP token, as Windows clients send it when Kerberos is unavailable); nullopt when neither.
std::optional<std::string> ntlm_scheme(const std::vector<Offer>& offers);

// Whether `scheme` (lower case) is among the challenges.
bool offers_scheme(const std::vector<Offer>& offers, std::string_view scheme);

// The NTLM message in the challenge for `scheme` (the CHALLENGE after a NEGOTIATE), decoded;
// nullopt when there is none or it is not base64.
std::optional<ntlm::Bytes> ntlm_token(const std::vector<Offer>& offers, std::string_view scheme);

// "NTLM <base64>" / "Negotiate <base64>".
std::string ntlm_authorization(std::string_view scheme, const ntlm::Bytes& message);
// "Basic <base64(user:password)>".
std::string basic_authorization(std::string_view user, std::string_view password);

// The credentials file: `user=` and `password=` lines (the value is the rest of the line, as
// written), blank lines and `#` comments. Refused when others than its owner may read or write
// it, when it is larger than 64 KiB, or when a line is something else; the reason never holds
// the file's contents.
struct Credentials {
    std::string user;
    std::string password;
};
std::variant<Credentials, std::string> read_credentials(const std::filesystem::path& file);

}  // namespace ward::exchange
