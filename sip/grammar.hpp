// SPDX-License-Identifier: Apache-2.0
#pragma once
// RFC 3261 section 25 character classes and ASCII text helpers shared by the SIP parsers.
// ASCII only, locale independent: SIP names are case-insensitive in ASCII, never otherwise.
#include <cstddef>
#include <string_view>

namespace ward::sip {

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
constexpr bool is_token_char(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("-.!%*_+`'~").find(ch) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        if (!is_token_char(c)) return false;
    }
    return true;
}

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Text allowed inside a start-line or header line: HTAB, visible ASCII, SP and UTF-8 bytes.
// Everything else (NUL, other C0 controls, DEL, and CR or LF outside a CRLF) is refused, so no
// backend can see a line break or a string end where ward saw none.
constexpr bool is_line_char(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

constexpr std::string_view trim_wsp(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace ward::sip
