// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/proxy_header.hpp"

#include <algorithm>

namespace ward::proxy::proxy_v2 {

namespace {

constexpr std::uint8_t kCmdLocal = 0x20;  // version 2 in the high nibble
constexpr std::uint8_t kCmdProxy = 0x21;
constexpr std::uint8_t kTcp4 = 0x11;
constexpr std::uint8_t kTcp6 = 0x21;

constexpr std::uint8_t kTypeAlpn = 0x01;
constexpr std::uint8_t kTypeAuthority = 0x02;
constexpr std::uint8_t kTypeCrc32c = 0x03;
constexpr std::uint8_t kTypeSsl = 0x20;
constexpr std::uint8_t kSubVersion = 0x21;
constexpr std::uint8_t kSubCn = 0x22;
constexpr std::uint8_t kSubCipher = 0x23;

constexpr std::uint8_t kClientSsl = 0x01;
constexpr std::uint8_t kClientCertConn = 0x02;
constexpr std::uint8_t kClientCertSess = 0x04;

void put16(std::string& out, std::size_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
}

void put32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_tlv(std::string& out, std::uint8_t type, std::string_view value) {
    if (value.size() > kMaxValue && type != kTypeSsl) return;  // (the SSL TLV holds bounded sub-TLVs)
    out.push_back(static_cast<char>(type));
    put16(out, value.size());
    out.append(value);
}

std::uint8_t byte(std::string_view s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }
std::uint16_t get16(std::string_view s, std::size_t i) {
    return static_cast<std::uint16_t>(byte(s, i) << 8 | byte(s, i + 1));
}
std::uint32_t get32(std::string_view s, std::size_t i) {
    return std::uint32_t{byte(s, i)} << 24 | std::uint32_t{byte(s, i + 1)} << 16 | std::uint32_t{byte(s, i + 2)} << 8 |
           byte(s, i + 3);
}

// An IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d), for a header whose other end is IPv6.
Address as_v6(Address a) {
    if (a.family != Address::Family::inet) return a;
    std::array<std::uint8_t, 16> mapped{};
    mapped[10] = mapped[11] = 0xff;
    std::copy_n(a.bytes.begin(), 4, mapped.begin() + 12);
    a.bytes = mapped;
    a.family = Address::Family::inet6;
    return a;
}

Parsed invalid(std::string why) {
    Parsed p;
    p.status = Parsed::Status::invalid;
    p.error = std::move(why);
    return p;
}

// The sub-TLVs of PP2_TYPE_SSL after its client and verify fields.
bool parse_ssl(std::string_view v, TlsDetails& out) {
    if (v.size() < 5) return false;
    const auto client = byte(v, 0);
    out.present = (client & kClientSsl) != 0;
    out.cert_conn = (client & kClientCertConn) != 0;
    out.cert_sess = (client & kClientCertSess) != 0;
    out.verify = get32(v, 1);
    for (std::size_t i = 5; i < v.size();) {
        if (v.size() - i < 3) return false;
        const auto type = byte(v, i);
        const std::size_t len = get16(v, i + 1);
        if (v.size() - i - 3 < len) return false;
        const auto value = v.substr(i + 3, len);
        if (type == kSubVersion) out.version = value;
        else if (type == kSubCn) out.common_name = value;
        else if (type == kSubCipher) out.cipher = value;
        i += 3 + len;
    }
    return true;
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
    // Bitwise, reflected polynomial 0x82F63B78: a header is small and written once per connection.
    std::uint32_t crc = 0xffffffff;
    for (const char c : bytes) {
        crc ^= static_cast<std::uint8_t>(c);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

std::string encode(const Header& h) {
    std::string out(kSignature);
    out.push_back(static_cast<char>(h.local ? kCmdLocal : kCmdProxy));
    Address src = h.source;
    Address dst = h.destination;
    if (src.family != dst.family && src.family != Address::Family::unspec && dst.family != Address::Family::unspec) {
        src = as_v6(src);
        dst = as_v6(dst);
    }
    std::string body;
    if (src.family == Address::Family::unspec || dst.family == Address::Family::unspec) {
        out.push_back(0x00);
    } else {
        const std::size_t n = src.family == Address::Family::inet ? 4 : 16;
        out.push_back(static_cast<char>(n == 4 ? kTcp4 : kTcp6));
        body.append(reinterpret_cast<const char*>(src.bytes.data()), n);
        body.append(reinterpret_cast<const char*>(dst.bytes.data()), n);
        put16(body, src.port);
        put16(body, dst.port);
    }
    if (!h.alpn.empty()) put_tlv(body, kTypeAlpn, h.alpn);
    if (!h.authority.empty()) put_tlv(body, kTypeAuthority, h.authority);
    if (h.tls.present) {
        std::string ssl;
        ssl.push_back(static_cast<char>(kClientSsl | (h.tls.cert_conn ? kClientCertConn : 0) |
                                        (h.tls.cert_sess ? kClientCertSess : 0)));
        put32(ssl, h.tls.verify);
        if (!h.tls.version.empty()) put_tlv(ssl, kSubVersion, h.tls.version);
        if (!h.tls.common_name.empty()) put_tlv(ssl, kSubCn, h.tls.common_name);
        if (!h.tls.cipher.empty()) put_tlv(ssl, kSubCipher, h.tls.cipher);
        put_tlv(body, kTypeSsl, ssl);
    }
    // The CRC covers the whole header with its own value zero (section 2.2.4).
    put_tlv(body, kTypeCrc32c, std::string(4, '\0'));
    put16(out, body.size());
    out += body;
    const auto crc = crc32c(out);
    std::string crc_bytes;
    put32(crc_bytes, crc);
    out.replace(out.size() - 4, 4, crc_bytes);
    return out;
}

Parsed parse(std::string_view in, std::size_t max) {
    const auto seen = std::min(in.size(), kSignature.size());
    if (in.substr(0, seen) != kSignature.substr(0, seen)) {
        if (in.substr(0, 6) == "PROXY ") return invalid("a PROXY protocol version 1 header (only version 2 is accepted)");
        return invalid("no PROXY protocol version 2 header");
    }
    if (in.size() < 16) return Parsed{};
    const auto command = byte(in, 12);
    if ((command & 0xf0) != 0x20) return invalid("PROXY protocol version " + std::to_string(command >> 4) + ", not 2");
    if (command != kCmdLocal && command != kCmdProxy) return invalid("unknown PROXY command " + std::to_string(command & 0x0f));
    const auto family = byte(in, 13);
    const std::size_t total = 16 + std::size_t{get16(in, 14)};
    if (total > max)
        return invalid("PROXY header of " + std::to_string(total) + " bytes (at most " + std::to_string(max) + ")");
    if (in.size() < total) {
        Parsed more;
        more.length = total;
        return more;
    }
    const auto block = in.substr(16, total - 16);
    Parsed p;
    p.status = Parsed::Status::done;
    p.length = total;
    p.header.local = command == kCmdLocal;
    const auto transport = family & 0x0f;
    if (!p.header.local && transport == 2) return invalid("a datagram (UDP) PROXY header on a stream");
    if (!p.header.local && (transport != 1 || (family >> 4) == 0 || (family >> 4) == 3))
        return invalid("a PROXY command that does not name a TCP client (family " + std::to_string(family >> 4) +
                       ", transport " + std::to_string(transport) + ")");
    std::size_t addresses = 0;
    switch (family >> 4) {
        case 0: break;
        case 1: addresses = 12; break;
        case 2: addresses = 36; break;
        case 3: addresses = 216; break;  // UNIX: skipped, the connection's own addresses stand
        default: return invalid("unknown PROXY address family " + std::to_string(family >> 4));
    }
    if (block.size() < addresses) return invalid("PROXY address block shorter than its family needs");
    if (!p.header.local) {
        const std::size_t n = addresses == 12 ? 4 : 16;
        auto& src = p.header.source;
        auto& dst = p.header.destination;
        src.family = dst.family = n == 4 ? Address::Family::inet : Address::Family::inet6;
        std::copy_n(block.begin(), n, src.bytes.begin());
        std::copy_n(block.begin() + n, n, dst.bytes.begin());
        src.port = get16(block, 2 * n);
        dst.port = get16(block, 2 * n + 2);
    }
    for (std::size_t i = addresses; i < block.size();) {
        if (block.size() - i < 3) return invalid("PROXY TLV cut short");
        const auto type = byte(block, i);
        const std::size_t len = get16(block, i + 1);
        if (block.size() - i - 3 < len) return invalid("PROXY TLV overruns the header");
        const auto value = block.substr(i + 3, len);
        if (type == kTypeAlpn) {
            p.header.alpn = value;
        } else if (type == kTypeAuthority) {
            p.header.authority = value;
        } else if (type == kTypeSsl) {
            if (!parse_ssl(value, p.header.tls)) return invalid("malformed PROXY TLS TLV");
        } else if (type == kTypeCrc32c) {
            if (len != 4) return invalid("PROXY CRC32C TLV of " + std::to_string(len) + " bytes");
            std::string copy(in.substr(0, total));
            const std::size_t at = 16 + i + 3;
            copy.replace(at, 4, std::string(4, '\0'));
            if (crc32c(copy) != get32(value, 0)) return invalid("PROXY header CRC32C does not match");
        }
        i += 3 + len;
    }
    return p;
}

}  // namespace ward::proxy::proxy_v2
