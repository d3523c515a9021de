// SPDX-License-Identifier: Apache-2.0
#pragma once
// The little DER ward writes and reads itself, so both TLS flavours issue and read certificates
// alike: ward's PKI builds certificates byte by byte and has the library only sign and parse them
// (the certificate builder of wolfSSL's compatibility layer takes no otherName, no second common
// name and no Authority Information Access), and the names ward matches peers by are read here
// (wolfSSL's X509_get_ext_d2i drops otherNames it does not know, and it hands out a BMPString
// common name as raw UTF-16). Only single-octet tags and definite lengths: what X.509 uses.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ward::der {

// DER octets, in a std::string (any byte value).
using Bytes = std::string;

namespace tag {
inline constexpr unsigned char boolean = 0x01;
inline constexpr unsigned char integer = 0x02;
inline constexpr unsigned char bit_string = 0x03;
inline constexpr unsigned char octet_string = 0x04;
inline constexpr unsigned char null = 0x05;
inline constexpr unsigned char oid = 0x06;
inline constexpr unsigned char utf8_string = 0x0c;
inline constexpr unsigned char ia5_string = 0x16;
inline constexpr unsigned char utc_time = 0x17;
inline constexpr unsigned char generalized_time = 0x18;
inline constexpr unsigned char sequence = 0x30;
inline constexpr unsigned char set = 0x31;
// [n], primitive (IMPLICIT of a primitive type) or constructed (EXPLICIT, or IMPLICIT of a
// constructed type).
constexpr unsigned char context(unsigned n) { return static_cast<unsigned char>(0x80 | n); }
constexpr unsigned char context_constructed(unsigned n) { return static_cast<unsigned char>(0xa0 | n); }
}  // namespace tag

// One element: tag, length, content.
Bytes tlv(unsigned char tag, std::string_view content);
inline Bytes sequence(std::string_view content) { return tlv(tag::sequence, content); }

// An OBJECT IDENTIFIER from its dotted form ("2.5.4.3"); nullopt when it is not one.
std::optional<Bytes> object_identifier(std::string_view dotted);
// The same for OIDs this program spells itself: a malformed one is a programming error.
Bytes known_oid(std::string_view dotted);

// INTEGER, two's complement in the fewest octets.
Bytes integer(std::int64_t value);
// INTEGER from unsigned big-endian octets (a pad octet added where the top bit is set).
Bytes unsigned_integer(std::string_view big_endian);
Bytes boolean(bool value);
// BIT STRING of whole octets.
Bytes bit_string(std::string_view octets);
// BIT STRING of named bits (bit 0 is the first, the most significant of the first octet), with
// the trailing zero bits dropped as DER wants (X.690 11.2.2).
Bytes named_bits(std::uint32_t bits);
// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC.
Bytes time(std::chrono::system_clock::time_point when);

// Reads elements one after another from DER octets; every length is checked against what is
// left, so malformed input ends the walk (ok() false) instead of reading past it.
class Reader {
public:
    explicit Reader(std::string_view der) : rest_(der) {}

    struct Element {
        unsigned char tag = 0;
        std::string_view content;
        std::string_view whole;  // tag and length included
    };

    // The next element; nullopt at the end or on malformed input.
    std::optional<Element> next();
    // The next element when it has `tag` (consumed); nullopt otherwise (nothing consumed).
    std::optional<Element> next_if(unsigned char tag);
    bool at_end() const { return rest_.empty(); }
    bool ok() const { return ok_; }

private:
    std::string_view rest_;
    bool ok_ = true;
};

// What ward reads of a certificate, as views into its DER.
struct Extension {
    std::string_view id;     // the OBJECT IDENTIFIER element, whole (compare with known_oid)
    bool critical = false;
    std::string_view value;  // the OCTET STRING's content: the extension's own DER
};
struct CertificateParts {
    std::string_view serial;   // INTEGER content octets
    std::string_view issuer;   // Name, whole
    std::string_view subject;  // Name, whole
    std::string_view public_key_info;  // SubjectPublicKeyInfo, whole
    std::vector<Extension> extensions;
};
// Certificate (RFC 5280 4.1); nullopt when it is not well-formed DER of one.
std::optional<CertificateParts> read_certificate(std::string_view der);

// A string element as UTF-8 (RFC 5280's DirectoryString types, IA5String, PrintableString and
// friends): UTF8String checked, BMPString and UniversalString converted, the one-octet types
// read as Latin-1 (as OpenSSL reads them); nullopt for any other tag or octets that are not
// valid for the type.
std::optional<std::string> string_as_utf8(unsigned char tag, std::string_view content);

}  // namespace ward::der
