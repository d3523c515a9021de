// SPDX-License-Identifier: Apache-2.0
#pragma once
// Switching the process's default OpenSSL library context to the FIPS provider (OpenSSL 3.0).
#include <filesystem>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace ward::tls {

// Where deploy/fips/build-provider.sh installs fips.so and fipsmodule.cnf (the default of
// security.fips_module_dir).
using config::kDefaultFipsModuleDir;

// Loads the OpenSSL FIPS provider from module_dir (fips.so + fipsmodule.cnf written by
// `openssl fipsinstall`) into the default library context, activates "base" next to it, and makes
// "fips=yes" the default property query, so every later fetch (libssl included) uses FIPS
// implementations only. Runs the provider's self tests (OSSL_PROVIDER_self_test).
// Returns an empty string on success, otherwise a one-paragraph reason that names the files looked
// at and says how to install the provider (run deploy/fips/build-provider.sh, or point
// security.fips_module_dir at a validated provider). Leaves the OpenSSL error queue empty either way.
//
// Call it once at startup, before other threads use OpenSSL. Calling it again once the provider
// is active only re-runs the self tests. The configuration is tried in a throwaway library context
// first, so the usual failures (missing or damaged files, a fips.so that does not match the MACs
// in fipsmodule.cnf) leave the default context as it was. Only a failure that shows up in the
// default context alone can leave it without usable algorithms (OpenSSL stops falling back to its
// default provider once a configuration activates one), so treat any failure as fatal.
std::string load_fips_provider(const std::filesystem::path& module_dir);

// True when the FIPS provider is loaded and fips=yes is the default property.
bool fips_provider_active();

// What the loaded FIPS provider says of itself (empty when none is loaded).
struct FipsProviderInfo {
    std::string name;        // "OpenSSL FIPS Provider"
    std::string version;     // "3.0.9"
    std::string build_info;  // "3.0.9", or Debian's "3.0.17-1~deb12u2"
};
FipsProviderInfo fips_provider_info();

// The FIPS 140 validation a provider version was tested under ("" for a version that is none):
// 3.0.8 and 3.0.9 under FIPS 140-2 certificate #4282, 3.1.2 under FIPS 140-3 certificate #4985.
// A provider of a validated version loads into any OpenSSL 3 libcrypto of the same major series.
std::string fips_validation(std::string_view version);

}  // namespace ward::tls
