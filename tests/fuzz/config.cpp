// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the configuration loader on arbitrary YAML text (every error must be a diagnostic).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = ward::config::load_string(text, "/nonexistent/ward-fuzz/ward.yaml");
    (void)r;
    return 0;
}
