// SPDX-License-Identifier: Apache-2.0
#pragma once
// NTLM as an HTTP client speaks it (MS-NLMP), NTLMv2 only: the NEGOTIATE message, a strict
// parser for the server's CHALLENGE, and the AUTHENTICATE message with the NTLMv2 response
// (section 3.3.2), its MsvAvTimestamp and MIC handling, and key exchange. No LM or NTLMv1
// response is ever computed: the code for them does not exist here.
//
// NTLM's MD4, HMAC-MD5 and RC4 are not FIPS-approved. They run in a library context of their
// own (`LegacyCrypto`: OpenSSL's default and legacy providers), never in the process's default
// context, which FIPS mode leaves FIPS-only. Exactly these run outside the FIPS module:
//   MD4        NTOWFv1 = MD4(UTF-16LE(password)), the first step of NTOWFv2
//   HMAC-MD5   NTOWFv2, NTProofStr, LMv2, SessionBaseKey, the MIC
//   MD5        the channel-binding hash (MsvAvChannelBindings)
//   RC4        EncryptedRandomSessionKey (key exchange)
// The random client challenge and session key come from the default context's DRBG (FIPS in
// FIPS mode); the tls-server-end-point certificate hash (SHA-256 or stronger) too.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ward::exchange::ntlm {

using Bytes = std::vector<std::uint8_t>;

// NEGOTIATE flags (MS-NLMP 2.2.2.5) ward uses or checks.
inline constexpr std::uint32_t kUnicode = 0x00000001;
inline constexpr std::uint32_t kOem = 0x00000002;
inline constexpr std::uint32_t kRequestTarget = 0x00000004;
inline constexpr std::uint32_t kLmKey = 0x00000080;
inline constexpr std::uint32_t kNtlm = 0x00000200;
inline constexpr std::uint32_t kAnonymous = 0x00000800;
inline constexpr std::uint32_t kAlwaysSign = 0x00008000;
inline constexpr std::uint32_t kExtendedSessionSecurity = 0x00080000;
inline constexpr std::uint32_t kTargetInfo = 0x00800000;
inline constexpr std::uint32_t kVersion = 0x02000000;
inline constexpr std::uint32_t k128 = 0x20000000;
inline constexpr std::uint32_t kKeyExchange = 0x40000000;
inline constexpr std::uint32_t k56 = 0x80000000;
// What ward asks for: Unicode, the server's target info, NTLM with extended session security,
// key exchange; no signing or sealing (TLS protects the connection).
inline constexpr std::uint32_t kClientFlags =
    kUnicode | kOem | kRequestTarget | kNtlm | kAlwaysSign | kExtendedSessionSecurity | kVersion | k128 | kKeyExchange | k56;

// MD4, MD5, HMAC-MD5 and RC4 from a library context with the default and legacy providers.
class LegacyCrypto {
public:
    // The process's one instance, made on first use; nullptr when the legacy provider cannot be
    // loaded (`unavailable_reason` says why).
    static const LegacyCrypto* get();
    static std::string unavailable_reason();

    ~LegacyCrypto();
    LegacyCrypto(const LegacyCrypto&) = delete;
    LegacyCrypto& operator=(const LegacyCrypto&) = delete;

    Bytes md4(std::span<const std::uint8_t> data) const;
    Bytes md5(std::span<const std::uint8_t> data) const;
    Bytes hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const;
    Bytes rc4(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) const;

private:
    struct Impl;
    explicit LegacyCrypto(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// UTF-8 to UTF-16LE; nullopt for invalid UTF-8.
std::optional<Bytes> utf16le(std::string_view utf8);

// NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)).
// nullopt when a string is not valid UTF-8.
std::optional<Bytes> ntowf_v2(const LegacyCrypto& crypto, std::string_view user, std::string_view password,
                              std::string_view domain);

// The NEGOTIATE message: kClientFlags, no domain or workstation, ward's version.
Bytes negotiate_message();

// AV pair ids (MS-NLMP 2.2.2.1).
enum class AvId : std::uint16_t {
    eol = 0,
    nb_computer = 1,
    nb_domain = 2,
    dns_computer = 3,
    dns_domain = 4,
    dns_tree = 5,
    flags = 6,
    timestamp = 7,
    single_host = 8,
    target_name = 9,
    channel_bindings = 10,
};

struct Challenge {
    std::uint32_t flags = 0;
    std::array<std::uint8_t, 8> server_challenge{};
    Bytes target_info;                   // the AV pairs, MsvAvEOL included
    std::optional<std::uint64_t> timestamp;  // MsvAvTimestamp (FILETIME)
    Bytes raw;                           // the message as received (for the MIC)
};

// The largest target info ward takes (servers send a few hundred bytes).
inline constexpr std::size_t kMaxTargetInfo = 8 * 1024;

// A CHALLENGE message, checked field by field: the signature and type, every offset and length
// inside the message, the AV pairs well-formed up to MsvAvEOL and within kMaxTargetInfo.
// Refused (with the reason) when it cannot carry NTLMv2: no target info, or it asks for
// OEM strings only, LM keys or anonymous authentication.
std::variant<Challenge, std::string> parse_challenge(std::span<const std::uint8_t> message);

struct Credentials {
    std::string user;
    std::string password;
    std::string domain;
    std::string workstation;
};

// What the client picks at random, and the clock (tests fix them).
struct Randomness {
    std::array<std::uint8_t, 8> client_challenge{};
    std::array<std::uint8_t, 16> session_key{};  // used when key exchange is negotiated
    std::uint64_t now = 0;                       // FILETIME, used when the server sent no timestamp
    static Randomness fresh();                    // from the default context's DRBG and the clock
};

struct AuthenticateOptions {
    // The flags to send; 0: what the CHALLENGE and kClientFlags have in common (plus Unicode).
    std::uint32_t flags = 0;
    std::array<std::uint8_t, 8> version{10, 0, 0, 0, 0, 0, 0, 15};  // Windows 10, NTLM revision 15
    // MsvAvTargetName ("HTTP/host") and MsvAvChannelBindings (MD5 of the channel bindings, RFC
    // 5929 tls-server-end-point), added to the target info echoed back when set.
    std::string target_name;
    std::optional<std::array<std::uint8_t, 16>> channel_bindings;
};

struct Authenticate {
    Bytes message;
    Bytes session_base_key;
    Bytes exported_session_key;
    bool mic = false;  // a MIC was included (the server sent MsvAvTimestamp)
};

// The AUTHENTICATE message answering `challenge` (which followed `negotiate`): the NTLMv2
// response over the server's target info; with MsvAvTimestamp, the server's time, MsvAvFlags
// "MIC present", a zero LmChallengeResponse and the MIC; without it, the LMv2 response (part of
// NTLMv2, HMAC-MD5 over the NTLMv2 hash; never the DES-based LM response). A string when the
// credentials are not valid UTF-8 or Unicode was not negotiated.
std::variant<Authenticate, std::string> authenticate_message(const LegacyCrypto& crypto, std::span<const std::uint8_t> negotiate,
                                                             const Challenge& challenge, const Credentials& credentials,
                                                             const Randomness& random, const AuthenticateOptions& options = {});

// MD5 of the gss_channel_bindings_struct carrying "tls-server-end-point:" + `certificate_hash`
// (RFC 5929 section 4; MS-NLMP MsvAvChannelBindings).
std::array<std::uint8_t, 16> channel_bindings_hash(const LegacyCrypto& crypto, std::span<const std::uint8_t> certificate_hash);

}  // namespace ward::exchange::ntlm
