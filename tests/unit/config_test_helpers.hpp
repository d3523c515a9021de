// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the configuration tests share: diagnostics and expectations compared as text, one per
// line, so a failure shows both.
#include <string>
#include <vector>

#include "config/diagnostics.hpp"

namespace ward::test {

inline std::string lines_of(const config::Diagnostics& d) {
    std::string out;
    for (const auto& x : d.all()) out += config::format(x) + "\n";
    return out;
}

inline std::string lines_of(const std::vector<std::string>& expected) {
    std::string out;
    for (const auto& x : expected) out += x + "\n";
    return out;
}

}  // namespace ward::test
