// SPDX-License-Identifier: Apache-2.0
#include "config/values.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <cctype>
#include <charconv>

namespace ward::config {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Splits "123unit" into the number and the unit (spaces between allowed).
bool split_number(std::string_view s, std::uint64_t& number, std::string_view& unit) {
    s = trim(s);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
    if (ec != std::errc{} || p == s.data()) return false;
    unit = trim(std::string_view(p, static_cast<std::size_t>(s.data() + s.size() - p)));
    return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
    std::uint64_t n = 0;
    std::string_view unit;
    if (!split_number(s, n, unit) || n > 1'000'000'000ULL) return std::nullopt;
    const auto v = static_cast<Duration::rep>(n);
    if (unit == "ms") return Duration(v);
    if (unit == "s") return std::chrono::seconds(v);
    if (unit == "m") return std::chrono::minutes(v);
    if (unit == "h") return std::chrono::hours(v);
    return std::nullopt;
}

std::string format_duration(Duration d) {
    const auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
    std::uint64_t n = 0;
    std::string_view unit;
    if (!split_number(s, n, unit) || n > (1ULL << 40)) return std::nullopt;
    if (unit.empty() || unit == "B") return n;
    if (unit == "KiB") return n * 1024;
    if (unit == "MiB") return n * 1024 * 1024;
    return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + "MiB";
    if (bytes != 0 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + "KiB";
    return std::to_string(bytes);
}

namespace {

bool is_ipv4(std::string_view h) {
    in_addr a{};
    return inet_pton(AF_INET, std::string(h).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view h) {
    in6_addr a{};
    return inet_pton(AF_INET6, std::string(h).c_str(), &a) == 1;
}

bool host_name(std::string_view h, bool allow_underscore) {
    if (h.empty() || h.size() > 253) return false;
    std::size_t label = 0;
    for (char c : h) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || (allow_underscore && c == '_')) {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

}  // namespace

std::optional<Network> parse_network(std::string_view s, std::string& why) {
    Network out;
    out.text = std::string(s);
    const auto slash = s.find('/');
    const std::string address(s.substr(0, slash));
    if (inet_pton(AF_INET, address.c_str(), out.bytes.data()) == 1) {
        out.prefix = 32;
    } else if (inet_pton(AF_INET6, address.c_str(), out.bytes.data()) == 1) {
        out.v6 = true;
        out.prefix = 128;
    } else {
        why = "is not an IPv4 or IPv6 address, or an address/prefix-length";
        return std::nullopt;
    }
    if (slash != std::string_view::npos) {
        const auto len = s.substr(slash + 1);
        unsigned v = 0;
        auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), v);
        if (len.empty() || ec != std::errc{} || p != len.data() + len.size() || v > out.prefix) {
            why = "has no valid prefix length (0 to " + std::to_string(out.prefix) + ")";
            return std::nullopt;
        }
        out.prefix = v;
    }
    // Bits past the prefix must be zero: 10.0.0.1/8 is more likely a mistake than 10.0.0.0/8.
    for (unsigned bit = out.prefix; bit < (out.v6 ? 128u : 32u); ++bit) {
        if (out.bytes[bit / 8] & (0x80 >> (bit % 8))) {
            why = "has address bits set past its prefix length (write the network's first address)";
            return std::nullopt;
        }
    }
    // IPv4-mapped IPv6 (::ffff:a.b.c.d/96 and longer) is the IPv4 network it maps. Peers are
    // matched unmapped, so no other IPv6 network (::/64, ::/0) ever holds an IPv4 client.
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (out.v6 && out.prefix >= 96 && std::equal(kMapped, kMapped + 12, out.bytes.begin())) {
        std::array<std::uint8_t, 16> v4{};
        std::copy_n(out.bytes.begin() + 12, 4, v4.begin());
        out.bytes = v4;
        out.v6 = false;
        out.prefix -= 96;
    }
    return out;
}

std::optional<Endpoint> parse_endpoint(std::string_view s, bool bind, std::string& why) {
    Endpoint e;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            why = "is not [IPv6]:port";
            return std::nullopt;
        }
        e.host = std::string(s.substr(1, close - 1));
        port = s.substr(close + 2);
        if (!is_ipv6(e.host)) {
            why = "does not hold a valid IPv6 address";
            return std::nullopt;
        }
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos) {
            why = "has no port (write host:port, or [IPv6]:port)";
            return std::nullopt;
        }
        e.host = std::string(s.substr(0, colon));
        port = s.substr(colon + 1);
        if (e.host.find(':') != std::string::npos) {
            why = "is an IPv6 address without brackets (write [IPv6]:port)";
            return std::nullopt;
        }
        const bool ok = is_ipv4(e.host) || e.host == "localhost" || (bind && e.host == "*") ||
                        (!bind && host_name(e.host, true));
        if (!ok) {
            why = bind ? "does not name an IP address to bind (IPv4, [IPv6], * or localhost)"
                       : "does not name a valid host";
            return std::nullopt;
        }
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    // Port 0 asks the system for a free port: tests use it, so a bind may say so.
    if (ec != std::errc{} || p != port.data() + port.size() || v > 65535 || (!bind && v == 0)) {
        why = "has no valid port (1 to 65535)";
        return std::nullopt;
    }
    e.port = static_cast<std::uint16_t>(v);
    return e;
}

std::string Endpoint::to_string() const {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

bool is_host_name(std::string_view host, bool allow_underscore) { return host_name(host, allow_underscore); }

bool is_ip_literal(std::string_view host) { return is_ipv4(host) || is_ipv6(host); }

bool is_loopback(std::string_view host) {
    if (host == "localhost" || host == "::1") return true;
    in_addr a{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
    return false;
}

bool binds_overlap(std::string_view a, std::string_view b) {
    if (a == b) return true;
    auto family = [](std::string_view h) {
        if (h == "*") return 0;
        return h.find(':') != std::string_view::npos ? 6 : 4;
    };
    auto wildcard = [](std::string_view h) { return h == "*" || h == "0.0.0.0" || h == "::"; };
    if (a == "*" || b == "*") return true;
    return (wildcard(a) || wildcard(b)) && family(a) == family(b);
}

std::size_t first_invalid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return i;
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return i;
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return std::string_view::npos;
}

bool is_sip_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) continue;
        if (std::string_view("-.!%*_+`'~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

bool is_reserved_sip_header(std::string_view name) {
    for (const std::string_view taken : {"Content-Length", "l", "Via", "v", "From", "f", "To", "t", "Call-ID", "i",
                                         "CSeq", "Route", "Record-Route", "Path", "Max-Forwards", "Contact", "m"}) {
        if (name.size() != taken.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(name[i])) == std::tolower(static_cast<unsigned char>(taken[i]));
        if (same) return true;
    }
    return false;
}

bool is_http_path(std::string_view s) {
    if (s.empty() || s.front() != '/') return false;
    std::size_t start = 1;
    for (;;) {
        const auto end = s.find('/', start);
        const auto segment = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (segment == "." || segment == "..") return false;
        if (segment.empty() && !(end == std::string_view::npos && s.size() == 1)) return false;
        for (char c : segment) {
            if (std::isalnum(static_cast<unsigned char>(c))) continue;
            if (std::string_view("-._~!$&'()*+,;=:@").find(c) == std::string_view::npos) return false;
        }
        if (end == std::string_view::npos) return true;
        start = end + 1;
    }
}

std::optional<std::string> normalize_origin(std::string_view s) {
    const auto sep = s.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    const auto scheme = lower(s.substr(0, sep));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    auto rest = s.substr(sep + 3);
    std::string host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto inner = rest.substr(1, close - 1);
        if (!is_ip_literal(inner) || inner.find(':') == std::string_view::npos) return std::nullopt;
        host = "[" + lower(inner) + "]";
        rest = rest.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
        }
    } else {
        const auto colon = rest.find(':');
        host = lower(rest.substr(0, colon));
        if (colon != std::string_view::npos) port = rest.substr(colon + 1);
        if (!is_host_name(host, false) && !(is_ip_literal(host) && host.find(':') == std::string::npos))
            return std::nullopt;
    }
    std::string out = scheme + "://" + host;
    if (!port.empty() || rest.find(':') != std::string_view::npos) {
        unsigned value = 0;
        if (port.empty() || port.size() > 5) return std::nullopt;
        for (char c : port) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) return std::nullopt;
        if (!((scheme == "https" && value == 443) || (scheme == "http" && value == 80)))
            out += ":" + std::to_string(value);
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace ward::config
