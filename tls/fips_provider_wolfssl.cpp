// SPDX-License-Identifier: Apache-2.0
// The wolfSSL flavour has no FIPS module: wolfCrypt FIPS is a separately licensed, separately
// built module, and the wolfSSL ward builds from Debian's source is not it. The fips, enhanced and
// common-criteria modes are refused with that reason (by `ward check` and at startup).
#include "tls/fips_provider.hpp"

namespace ward::tls {

std::string load_fips_provider(const std::filesystem::path&) {
    return "This ward is built with wolfSSL (WARD_TLS=wolfssl), which has no FIPS module here: the fips, "
           "enhanced and common-criteria modes need one (wolfCrypt FIPS is a separately licensed module). "
           "Run the OpenSSL build of ward (WARD_TLS=openssl, the default) with the OpenSSL FIPS provider "
           "(deploy/fips/build-provider.sh) for those modes.";
}

bool fips_provider_active() { return false; }

FipsProviderInfo fips_provider_info() { return {}; }

}  // namespace ward::tls
