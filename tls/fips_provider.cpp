// SPDX-License-Identifier: Apache-2.0
// What both flavours share of the FIPS provider: the table of validated versions.
#include "tls/fips_provider.hpp"

namespace ward::tls {

std::string fips_validation(std::string_view version) {
    if (version == "3.0.8" || version == "3.0.9") return "FIPS 140-2 certificate #4282";
    if (version == "3.1.2") return "FIPS 140-3 certificate #4985";
    return {};
}

}  // namespace ward::tls
