// SPDX-License-Identifier: Apache-2.0
#include "tls/der.hpp"

#include <ctime>
#include <stdexcept>
#include <vector>

namespace ward::der {

Bytes tlv(unsigned char tag, std::string_view content) {
    Bytes out;
    out.reserve(content.size() + 6);
    out.push_back(static_cast<char>(tag));
    const std::size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<char>(n));
    } else {
        unsigned char octets[sizeof(std::size_t)];
        int count = 0;
        for (std::size_t v = n; v != 0; v >>= 8) octets[count++] = static_cast<unsigned char>(v & 0xff);
        out.push_back(static_cast<char>(0x80 | count));
        while (count > 0) out.push_back(static_cast<char>(octets[--count]));
    }
    out.append(content);
    return out;
}

std::optional<Bytes> object_identifier(std::string_view dotted) {
    std::vector<std::uint64_t> arcs;
    std::uint64_t arc = 0;
    bool digits = false;
    for (char c : dotted) {
        if (c == '.') {
            if (!digits) return std::nullopt;
            arcs.push_back(arc);
            arc = 0;
            digits = false;
        } else if (c >= '0' && c <= '9') {
            if (arc > (UINT64_MAX - 9) / 10) return std::nullopt;
            arc = arc * 10 + static_cast<std::uint64_t>(c - '0');
            digits = true;
        } else {
            return std::nullopt;
        }
    }
    if (!digits) return std::nullopt;
    arcs.push_back(arc);
    if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) || arcs[1] > UINT64_MAX - 80) {
        return std::nullopt;
    }
    Bytes content;
    auto base128 = [&content](std::uint64_t v) {
        unsigned char groups[10];
        int count = 0;
        do {
            groups[count++] = static_cast<unsigned char>(v & 0x7f);
            v >>= 7;
        } while (v != 0);
        while (count > 1) content.push_back(static_cast<char>(groups[--count] | 0x80));
        content.push_back(static_cast<char>(groups[0]));
    };
    base128(arcs[0] * 40 + arcs[1]);
    for (std::size_t i = 2; i < arcs.size(); ++i) base128(arcs[i]);
    return tlv(tag::oid, content);
}

Bytes known_oid(std::string_view dotted) {
    auto oid = object_identifier(dotted);
    if (!oid) throw std::logic_error("malformed object identifier " + std::string(dotted));
    return *oid;
}

Bytes integer(std::int64_t value) {
    unsigned char octets[8];
    auto bits = static_cast<std::uint64_t>(value);
    for (int i = 7; i >= 0; --i) {
        octets[i] = static_cast<unsigned char>(bits & 0xff);
        bits >>= 8;
    }
    // Drop leading octets that only repeat the sign of the next one.
    int first = 0;
    while (first < 7 && ((octets[first] == 0x00 && (octets[first + 1] & 0x80) == 0) ||
                         (octets[first] == 0xff && (octets[first + 1] & 0x80) != 0))) {
        ++first;
    }
    return tlv(tag::integer, std::string_view(reinterpret_cast<const char*>(octets) + first,
                                              static_cast<std::size_t>(8 - first)));
}

Bytes unsigned_integer(std::string_view big_endian) {
    while (big_endian.size() > 1 && big_endian.front() == '\0') big_endian.remove_prefix(1);
    if (big_endian.empty()) return tlv(tag::integer, std::string_view("\0", 1));
    if ((static_cast<unsigned char>(big_endian.front()) & 0x80) != 0) {
        return tlv(tag::integer, std::string(1, '\0') + std::string(big_endian));
    }
    return tlv(tag::integer, big_endian);
}

Bytes boolean(bool value) { return tlv(tag::boolean, value ? std::string_view("\xff", 1) : std::string_view("\0", 1)); }

Bytes bit_string(std::string_view octets) { return tlv(tag::bit_string, std::string(1, '\0') + std::string(octets)); }

Bytes named_bits(std::uint32_t bits) {
    std::string octets;
    int highest = -1;
    for (int i = 0; i < 32; ++i) {
        if ((bits >> i) & 1u) highest = i;
    }
    if (highest < 0) return tlv(tag::bit_string, std::string_view("\0", 1));
    octets.assign(static_cast<std::size_t>(highest / 8 + 1), '\0');
    for (int i = 0; i <= highest; ++i) {
        if ((bits >> i) & 1u) octets[static_cast<std::size_t>(i / 8)] |= static_cast<char>(0x80 >> (i % 8));
    }
    const int unused = 7 - highest % 8;
    return tlv(tag::bit_string, std::string(1, static_cast<char>(unused)) + octets);
}

Bytes time(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    if (gmtime_r(&seconds, &utc) == nullptr) throw std::range_error("time out of range");
    const int year = utc.tm_year + 1900;
    char text[32];
    if (year >= 1950 && year < 2050) {
        std::strftime(text, sizeof text, "%y%m%d%H%M%SZ", &utc);
        return tlv(tag::utc_time, text);
    }
    if (year < 0 || year > 9999) throw std::range_error("time out of range");
    std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &utc);
    return tlv(tag::generalized_time, text);
}

std::optional<Reader::Element> Reader::next() {
    if (!ok_ || rest_.empty()) return std::nullopt;
    auto fail = [this]() -> std::optional<Element> {
        ok_ = false;
        return std::nullopt;
    };
    const std::string_view start = rest_;
    if (rest_.size() < 2) return fail();
    Element e;
    e.tag = static_cast<unsigned char>(rest_[0]);
    if ((e.tag & 0x1f) == 0x1f) return fail();  // high tag numbers: not in X.509
    const auto first = static_cast<unsigned char>(rest_[1]);
    rest_.remove_prefix(2);
    std::size_t length = first;
    if (first & 0x80) {
        const unsigned count = first & 0x7fu;
        if (count == 0 || count > 4 || rest_.size() < count) return fail();  // indefinite or over 4 GiB
        length = 0;
        for (unsigned i = 0; i < count; ++i) length = (length << 8) | static_cast<unsigned char>(rest_[i]);
        // DER: the shortest form only (no leading zero octet, the long form from 128 on). A
        // longer one would hide an element from the byte-for-byte comparisons (an extension's
        // OID) while another parser still finds it.
        if (static_cast<unsigned char>(rest_[0]) == 0 || length < 0x80) return fail();
        rest_.remove_prefix(count);
    }
    if (length > rest_.size()) return fail();
    e.content = rest_.substr(0, length);
    rest_.remove_prefix(length);
    e.whole = start.substr(0, start.size() - rest_.size());
    return e;
}

std::optional<Reader::Element> Reader::next_if(unsigned char wanted) {
    if (!ok_ || rest_.empty() || static_cast<unsigned char>(rest_[0]) != wanted) return std::nullopt;
    return next();
}

std::optional<CertificateParts> read_certificate(std::string_view der) {
    Reader top(der);
    auto certificate = top.next_if(tag::sequence);
    if (!certificate || !top.at_end()) return std::nullopt;
    Reader parts(certificate->content);
    auto tbs = parts.next_if(tag::sequence);
    if (!tbs) return std::nullopt;
    Reader t(tbs->content);
    t.next_if(tag::context_constructed(0));  // version
    auto serial = t.next_if(tag::integer);
    auto algorithm = t.next_if(tag::sequence);
    auto issuer = t.next_if(tag::sequence);
    auto validity = t.next_if(tag::sequence);
    auto subject = t.next_if(tag::sequence);
    auto spki = t.next_if(tag::sequence);
    if (!serial || !algorithm || !issuer || !validity || !subject || !spki) return std::nullopt;
    CertificateParts out{serial->content, issuer->whole, subject->whole, spki->whole, {}};
    t.next_if(tag::context(1));  // issuerUniqueID
    t.next_if(tag::context(2));  // subjectUniqueID
    if (auto extensions = t.next_if(tag::context_constructed(3))) {
        Reader wrapper(extensions->content);
        auto list = wrapper.next_if(tag::sequence);
        if (!list || !wrapper.at_end()) return std::nullopt;
        Reader each(list->content);
        while (auto extension = each.next_if(tag::sequence)) {
            Reader e(extension->content);
            auto id = e.next_if(tag::oid);
            auto critical = e.next_if(tag::boolean);
            auto value = e.next_if(tag::octet_string);
            if (!id || !value || !e.at_end()) return std::nullopt;
            out.extensions.push_back({id->whole, critical && critical->content == std::string_view("\xff", 1), value->content});
        }
        if (!each.ok() || !each.at_end()) return std::nullopt;
    }
    if (!t.ok() || !t.at_end()) return std::nullopt;
    return out;
}

namespace {

void put_utf8(std::string& out, std::uint32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xc0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xe0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    }
}

bool scalar_value(std::uint32_t c) { return c <= 0x10ffff && (c < 0xd800 || c > 0xdfff); }

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t c = 0;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 1;
            c = b & 0x1fu;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2;
            c = b & 0x0fu;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3;
            c = b & 0x07u;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // continuation octets past the end
        for (std::size_t k = 1; k <= n; ++k) {
            const auto t = static_cast<unsigned char>(s[i + k]);
            if ((t & 0xc0) != 0x80) return false;
            c = c << 6 | (t & 0x3fu);
        }
        constexpr std::uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
        if (c < kSmallest[n] || !scalar_value(c)) return false;  // over-long, surrogate, past U+10FFFF
        i += n + 1;
    }
    return true;
}

}  // namespace

std::optional<std::string> string_as_utf8(unsigned char string_tag, std::string_view content) {
    switch (string_tag) {
    case tag::utf8_string:
        if (!valid_utf8(content)) return std::nullopt;
        return std::string(content);
    case 0x12:  // NumericString
    case 0x13:  // PrintableString
    case 0x14:  // TeletexString (T61), read as Latin-1
    case tag::ia5_string:
    case 0x1a: {  // VisibleString
        std::string out;
        for (char c : content) put_utf8(out, static_cast<unsigned char>(c));
        return out;
    }
    case 0x1e: {  // BMPString: UCS-2, big-endian
        if (content.size() % 2 != 0) return std::nullopt;
        std::string out;
        for (std::size_t i = 0; i < content.size(); i += 2) {
            const std::uint32_t c = static_cast<std::uint32_t>(static_cast<unsigned char>(content[i])) << 8 |
                                    static_cast<unsigned char>(content[i + 1]);
            if (!scalar_value(c)) return std::nullopt;
            put_utf8(out, c);
        }
        return out;
    }
    case 0x1c: {  // UniversalString: UCS-4, big-endian
        if (content.size() % 4 != 0) return std::nullopt;
        std::string out;
        for (std::size_t i = 0; i < content.size(); i += 4) {
            std::uint32_t c = 0;
            for (std::size_t k = 0; k < 4; ++k) c = c << 8 | static_cast<unsigned char>(content[i + k]);
            if (!scalar_value(c)) return std::nullopt;
            put_utf8(out, c);
        }
        return out;
    }
    default:
        return std::nullopt;
    }
}

}  // namespace ward::der
