// SPDX-License-Identifier: Apache-2.0
#pragma once
// A minimal streaming JSON writer for the reports: objects, strings, numbers, booleans, null.
// Keys are written in call order; strings are escaped per RFC 8259.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ward::loadgen {

class JsonWriter {
public:
    JsonWriter();

    // `key` is ignored at the top level.
    void open(std::string_view key = {});
    void close();

    void text(std::string_view key, std::string_view value);
    void number(std::string_view key, std::uint64_t value);
    void real(std::string_view key, double value, int decimals = 3);  // null if not finite
    void boolean(std::string_view key, bool value);
    void null(std::string_view key);

    // The document so far (complete once every open() is closed).
    const std::string& str() const { return out_; }

private:
    void key(std::string_view key);
    void quoted(std::string_view s);

    std::string out_;
    std::vector<bool> first_;  // one per open object: nothing written in it yet
};

}  // namespace ward::loadgen
