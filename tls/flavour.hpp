// SPDX-License-Identifier: Apache-2.0
#pragma once
// What differs between ward's TLS flavours (WARD_TLS), as constants: the one place outside the
// build files that asks which library ward is built with. Code and tests read these instead of
// testing the build themselves.
#include <string_view>

namespace ward::tls::flavour {

#if defined(WARD_TLS_WOLFSSL)
inline constexpr std::string_view kName = "wolfssl";
// No FIPS module: the fips, enhanced and common-criteria modes are refused.
inline constexpr bool kFipsModule = false;
// A context holds one certificate (and chain) at a time, so a group of names has one
// certificate, not one per key type.
inline constexpr bool kCertificatePerKeyType = false;
// No hook re-verifies a resumed session's peer certificate: contexts that verify peers issue no
// tickets, and their connections are full handshakes.
inline constexpr bool kResumesVerifiedPeers = false;
// OCSP (stapling and revocation checks) is not built on wolfSSL yet: contexts asking for it are
// refused.
inline constexpr bool kOcsp = false;
// The compatibility layer has no EdDSA keys: `ward pki` makes EC and RSA keys only.
inline constexpr bool kEdDsa = false;
#else
inline constexpr std::string_view kName = "openssl";
inline constexpr bool kFipsModule = true;
inline constexpr bool kCertificatePerKeyType = true;
inline constexpr bool kResumesVerifiedPeers = true;
inline constexpr bool kOcsp = true;
inline constexpr bool kEdDsa = true;
#endif

}  // namespace ward::tls::flavour
