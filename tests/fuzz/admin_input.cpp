// SPDX-License-Identifier: Apache-2.0
// libFuzzer: what the admin API reads from a client before any handler: JSON bodies (strict
// objects, unknown fields named) and path segments (percent-decoding, traversal, UTF-8).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/fronts/admin/api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    auto parsed = ward::proxy::admin::parse_object(in, {"name", "password", "subject", "description"});
    if (!parsed.refusal) {
        std::optional<std::string> s;
        std::optional<bool> b;
        std::optional<std::vector<std::string>> list;
        (void)ward::proxy::admin::get_string(parsed.object, "name", s);
        (void)ward::proxy::admin::get_bool(parsed.object, "password", b);
        (void)ward::proxy::admin::get_string_list(parsed.object, "subject", list);
    }
    if (auto decoded = ward::proxy::admin::decode_segment(in)) {
        // A decoded name never holds a separator or a control character.
        for (unsigned char c : *decoded)
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) __builtin_trap();
    }
    return 0;
}
