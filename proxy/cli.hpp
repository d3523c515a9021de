// SPDX-License-Identifier: Apache-2.0
#pragma once
// The `ward` command line: check, run, pki, cert (and, with the engine, reload).
namespace ward::proxy {

// Exit statuses (sysexits.h): 0 ok, 64 usage, 78 configuration, 69 unavailable, 1 failure.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitUnavailable = 69;
inline constexpr int kExitConfig = 78;

int run_cli(int argc, char** argv);

}  // namespace ward::proxy
