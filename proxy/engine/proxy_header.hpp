// SPDX-License-Identifier: Apache-2.0
#pragma once
// The PROXY protocol, version 2 (HAProxy's proxy-protocol.txt, section 2.2): the binary header
// a proxy writes first on a connection to tell the receiver who the client really is, with
// the TLS details of the client's connection in TLVs. ward writes it to backends on listeners
// with `proxy_protocol: v2` and reads it from the load balancers a listener names in
// `accept_proxy_protocol`. Encoding and parsing only: no I/O.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ward::proxy::proxy_v2 {

// The 12 bytes every version 2 header starts with.
inline constexpr std::string_view kSignature{"\r\n\r\n\0\r\nQUIT\n", 12};
// What ward reads from a load balancer at most (the format allows 16 + 65535 bytes): room for
// the addresses and the usual TLVs (ALPN, authority, TLS details, a unique id, a CRC).
inline constexpr std::size_t kMaxAccepted = 4096;

struct Address {
    enum class Family : std::uint8_t { unspec, inet, inet6 };
    Family family = Family::unspec;
    std::array<std::uint8_t, 16> bytes{};  // network order; the first 4 for inet
    std::uint16_t port = 0;
    bool operator==(const Address&) const = default;
};

// PP2_TYPE_SSL: the client's TLS connection.
struct TlsDetails {
    bool present = false;       // the client connected over TLS (PP2_CLIENT_SSL)
    bool cert_conn = false;     // it presented a certificate on this connection (PP2_CLIENT_CERT_CONN)
    bool cert_sess = false;     // its session carries a certificate (PP2_CLIENT_CERT_SESS; resumed too)
    std::uint32_t verify = 1;   // 0: a certificate was presented and verified
    std::string version;        // PP2_SUBTYPE_SSL_VERSION ("TLSv1.3")
    std::string cipher;         // PP2_SUBTYPE_SSL_CIPHER (OpenSSL's name)
    std::string common_name;    // PP2_SUBTYPE_SSL_CN (ward writes the verified subject only)
    bool operator==(const TlsDetails&) const = default;
};

struct Header {
    bool local = false;  // the LOCAL command: the proxy's own connection (a health check)
    Address source;
    Address destination;
    std::string alpn;       // PP2_TYPE_ALPN
    std::string authority;  // PP2_TYPE_AUTHORITY (the SNI host name)
    TlsDetails tls;
    bool operator==(const Header&) const = default;
};

// The longest value ward writes in a TLV: every length field stays far from its 16 bits (a
// longer value would wrap it and let the rest of the value read as TLVs of its own).
inline constexpr std::size_t kMaxValue = 255;

// The header's bytes: PROXY (or LOCAL) over TCP, the addresses when the source's family is
// known (source and destination must share it), the TLVs that are not empty and at most
// kMaxValue bytes (a longer one is left out), and a CRC32C TLV.
std::string encode(const Header& header);

struct Parsed {
    enum class Status { need_more, done, invalid };
    Status status = Status::need_more;
    std::size_t length = 16;  // need_more: bytes the header needs in all; done: its length
    Header header;
    std::string error;        // invalid: why
};

// Reads a header from the start of `bytes`, which may hold a part of it. Not a header (the
// signature does not match as far as it goes), a version other than 2, a command other than
// LOCAL or PROXY, a PROXY command for anything but TCP over IPv4 or IPv6 (ward must be told
// who the client is, never left to take the balancer for it), an address block shorter than
// its family needs, TLVs that overrun the header, a CRC32C that does not match, or a header
// longer than `max`: invalid. LOCAL (the balancer's own connection) is valid with whatever
// address block, and an unspec source: the connection's own addresses stand.
Parsed parse(std::string_view bytes, std::size_t max = kMaxAccepted);

// CRC-32C (Castagnoli), as PP2_TYPE_CRC32C carries it.
std::uint32_t crc32c(std::string_view bytes);

}  // namespace ward::proxy::proxy_v2
