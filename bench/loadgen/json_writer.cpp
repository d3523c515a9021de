// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace ward::loadgen {

JsonWriter::JsonWriter() { out_.reserve(2048); }

void JsonWriter::key(std::string_view k) {
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    quoted(k);
    out_ += ':';
}

void JsonWriter::quoted(std::string_view s) {
    out_ += '"';
    for (const char c : s) {
        switch (c) {
            case '"': out_ += "\\\""; break;
            case '\\': out_ += "\\\\"; break;
            case '\n': out_ += "\\n"; break;
            case '\r': out_ += "\\r"; break;
            case '\t': out_ += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out_ += buf;
                } else {
                    out_ += c;
                }
        }
    }
    out_ += '"';
}

void JsonWriter::open(std::string_view k) {
    key(k);
    out_ += '{';
    first_.push_back(true);
}

void JsonWriter::close() {
    out_ += '}';
    first_.pop_back();
}

void JsonWriter::text(std::string_view k, std::string_view value) {
    key(k);
    quoted(value);
}

void JsonWriter::number(std::string_view k, std::uint64_t value) {
    key(k);
    out_ += std::to_string(value);
}

void JsonWriter::real(std::string_view k, double value, int decimals) {
    key(k);
    if (!std::isfinite(value)) {
        out_ += "null";
        return;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    out_ += buf;
}

void JsonWriter::boolean(std::string_view k, bool value) {
    key(k);
    out_ += value ? "true" : "false";
}

void JsonWriter::null(std::string_view k) {
    key(k);
    out_ += "null";
}

}  // namespace ward::loadgen
