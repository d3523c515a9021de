// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/der.hpp"

#include <ctime>
#include <stdexcept>
#include <vector>

namespace ward::ops::der {

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

}  // namespace ward::ops::der
