// SPDX-License-Identifier: Apache-2.0
#include "proxy/exchange/ntlm.hpp"

#include <locale.h>
#include <wctype.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "tls/crypto.hpp"

namespace ward::exchange::ntlm {

namespace {

constexpr std::uint8_t kSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
constexpr std::uint32_t kChallengeType = 2;
// The first field of a message's payload (MS-NLMP 2.2.1): NEGOTIATE with Version, AUTHENTICATE
// with Version, AUTHENTICATE with Version and MIC.
constexpr std::size_t kNegotiateSize = 40;
constexpr std::size_t kAuthenticateHeader = 72;
constexpr std::size_t kMicOffset = 72;
constexpr std::uint32_t kAvFlagMic = 0x00000002;

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
           (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void set16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void set32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void append(Bytes& b, std::span<const std::uint8_t> s) { b.insert(b.end(), s.begin(), s.end()); }

// Upper case as Windows compares account names: Unicode simple case mapping (glibc's C.UTF-8
// locale), ASCII when that locale is missing.
char32_t upper(char32_t c) {
    static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (utf8) return static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), utf8));
    return c >= 'a' && c <= 'z' ? c - 32 : c;
}

std::optional<std::u32string> decode_utf8(std::string_view s) {
    std::u32string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        int n = 0;
        char32_t c = 0;
        if (b < 0x80) n = 1, c = b;
        else if ((b & 0xe0) == 0xc0) n = 2, c = b & 0x1f;
        else if ((b & 0xf0) == 0xe0) n = 3, c = b & 0x0f;
        else if ((b & 0xf8) == 0xf0) n = 4, c = b & 0x07;
        else return std::nullopt;
        if (i + n > s.size()) return std::nullopt;
        for (int k = 1; k < n; ++k) {
            const auto t = static_cast<unsigned char>(s[i + k]);
            if ((t & 0xc0) != 0x80) return std::nullopt;
            c = (c << 6) | (t & 0x3f);
        }
        static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < kMin[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return std::nullopt;
        out.push_back(c);
        i += n;
    }
    return out;
}

Bytes encode_utf16le(const std::u32string& s) {
    Bytes out;
    for (char32_t c : s) {
        if (c >= 0x10000) {
            c -= 0x10000;
            put16(out, static_cast<std::uint16_t>(0xd800 + (c >> 10)));
            put16(out, static_cast<std::uint16_t>(0xdc00 + (c & 0x3ff)));
        } else {
            put16(out, static_cast<std::uint16_t>(c));
        }
    }
    return out;
}

}  // namespace

// --- messages ----------------------------------------------------------------------------------

std::optional<Bytes> utf16le(std::string_view utf8) {
    auto decoded = decode_utf8(utf8);
    if (!decoded) return std::nullopt;
    return encode_utf16le(*decoded);
}

std::optional<Bytes> ntowf_v2(const LegacyCrypto& crypto, std::string_view user, std::string_view password,
                              std::string_view domain) {
    auto pw = utf16le(password);
    auto u = decode_utf8(user);
    auto d = decode_utf8(domain);
    if (!pw || !u || !d) return std::nullopt;
    for (auto& c : *u) c = upper(c);
    auto nt_hash = crypto.md4(*pw);
    ward::crypto::cleanse(pw->data(), pw->size());
    if (nt_hash.size() != 16) return std::nullopt;
    auto identity = encode_utf16le(*u + *d);
    auto out = crypto.hmac_md5(nt_hash, identity);
    ward::crypto::cleanse(nt_hash.data(), nt_hash.size());
    if (out.size() != 16) return std::nullopt;
    return out;
}

Bytes negotiate_message() {
    Bytes m(kSignature, kSignature + 8);
    put32(m, 1);
    put32(m, kClientFlags);
    for (int i = 0; i < 2; ++i) {  // DomainNameFields, WorkstationFields: empty, at the end
        put16(m, 0);
        put16(m, 0);
        put32(m, kNegotiateSize);
    }
    const std::uint8_t version[8] = {10, 0, 0, 0, 0, 0, 0, 15};
    append(m, version);
    return m;
}

std::variant<Challenge, std::string> parse_challenge(std::span<const std::uint8_t> message) {
    // Signature, type, TargetNameFields, flags, server challenge, reserved, TargetInfoFields.
    if (message.size() < 48) return std::string("the CHALLENGE message is too short (") + std::to_string(message.size()) + " bytes)";
    if (std::memcmp(message.data(), kSignature, 8) != 0) return std::string("not an NTLM message (no NTLMSSP signature)");
    if (get32(message, 8) != kChallengeType) return std::string("not a CHALLENGE message (type ") + std::to_string(get32(message, 8)) + ")";
    Challenge out;
    out.flags = get32(message, 20);
    std::memcpy(out.server_challenge.data(), message.data() + 24, 8);
    // Every field inside the message (64-bit arithmetic: no wrap-around).
    auto field = [&](std::size_t at, const char* name) -> std::variant<std::span<const std::uint8_t>, std::string> {
        const std::uint64_t length = get16(message, at);
        const std::uint64_t offset = get32(message, at + 4);
        if (length == 0) return std::span<const std::uint8_t>();
        if (offset < 48 || offset + length > message.size())
            return std::string(name) + " lies outside the CHALLENGE message";
        return message.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
    };
    auto name = field(12, "the target name");
    if (auto* e = std::get_if<std::string>(&name)) return *e;
    auto info = field(40, "the target info");
    if (auto* e = std::get_if<std::string>(&info)) return *e;
    const auto target_info = std::get<std::span<const std::uint8_t>>(info);
    // What NTLMv2 needs, and what only NTLMv1/LM would use.
    if (!(out.flags & kUnicode)) return std::string("the server asks for OEM strings (no NTLMSSP_NEGOTIATE_UNICODE)");
    if (!(out.flags & kTargetInfo) || target_info.empty())
        return std::string("the server sent no target info, which an NTLMv2 response carries (an NTLMv1-only server)");
    if ((out.flags & kLmKey) && !(out.flags & kExtendedSessionSecurity))
        return std::string("the server asks for LM session keys (NTLMSSP_NEGOTIATE_LM_KEY), which only NTLMv1 uses");
    if (out.flags & kAnonymous) return std::string("the server asks for anonymous authentication");
    if (target_info.size() > kMaxTargetInfo)
        return "the target info is " + std::to_string(target_info.size()) + " bytes (at most " + std::to_string(kMaxTargetInfo) + ")";
    // The AV pairs: well-formed up to MsvAvEOL, which ends them.
    std::size_t at = 0;
    bool ended = false;
    while (!ended) {
        if (at + 4 > target_info.size()) return std::string("the target info ends inside an AV pair");
        const auto id = get16(target_info, at);
        const auto length = get16(target_info, at + 2);
        if (at + 4 + length > target_info.size()) return std::string("an AV pair runs past the target info");
        const auto value = target_info.subspan(at + 4, length);
        switch (static_cast<AvId>(id)) {
            case AvId::eol:
                if (length != 0) return std::string("MsvAvEOL has a value");
                ended = true;
                break;
            case AvId::timestamp:
                if (length != 8) return std::string("MsvAvTimestamp is not 8 bytes");
                if (!out.timestamp)
                    out.timestamp = static_cast<std::uint64_t>(get32(value, 0)) | (static_cast<std::uint64_t>(get32(value, 4)) << 32);
                break;
            case AvId::flags:
                if (length != 4) return std::string("MsvAvFlags is not 4 bytes");
                break;
            default: break;
        }
        at += 4 + length;
    }
    out.target_info.assign(target_info.begin(), target_info.begin() + static_cast<std::ptrdiff_t>(at));
    out.raw.assign(message.begin(), message.end());
    return out;
}

Randomness Randomness::fresh() {
    Randomness r;
    if (!ward::crypto::random_bytes({r.client_challenge.data(), 8}) || !ward::crypto::random_bytes({r.session_key.data(), 16})) {
        throw std::runtime_error("the random generator failed");
    }
    // FILETIME: 100 ns since 1601-01-01.
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto ticks = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count() / 100;
    r.now = static_cast<std::uint64_t>(ticks) + 116444736000000000ULL;
    return r;
}

namespace {

// The server's AV pairs as the client echoes them in its NTLMv2 response: with a timestamp,
// MsvAvFlags says the MIC is present; MsvAvTargetName and MsvAvChannelBindings when given.
Bytes client_target_info(const Challenge& challenge, const AuthenticateOptions& options, bool mic) {
    Bytes out;
    bool flags_done = false;
    std::span<const std::uint8_t> info(challenge.target_info);
    for (std::size_t at = 0; at + 4 <= info.size();) {
        const auto id = static_cast<AvId>(get16(info, at));
        const auto length = get16(info, at + 2);
        if (id == AvId::eol) break;
        if (id == AvId::target_name || id == AvId::channel_bindings) {  // the client's to say
            at += 4 + length;
            continue;
        }
        const auto start = out.size();
        out.insert(out.end(), info.begin() + static_cast<std::ptrdiff_t>(at),
                   info.begin() + static_cast<std::ptrdiff_t>(at + 4 + length));
        if (id == AvId::flags && mic) {
            set32(out, start + 4, get32(out, start + 4) | kAvFlagMic);
            flags_done = true;
        }
        at += 4 + length;
    }
    if (mic && !flags_done) {
        put16(out, static_cast<std::uint16_t>(AvId::flags));
        put16(out, 4);
        put32(out, kAvFlagMic);
    }
    if (options.channel_bindings) {
        put16(out, static_cast<std::uint16_t>(AvId::channel_bindings));
        put16(out, 16);
        append(out, *options.channel_bindings);
    }
    if (!options.target_name.empty()) {
        if (auto name = utf16le(options.target_name); name && name->size() <= 0xffff) {
            put16(out, static_cast<std::uint16_t>(AvId::target_name));
            put16(out, static_cast<std::uint16_t>(name->size()));
            append(out, *name);
        }
    }
    put16(out, 0);
    put16(out, 0);
    return out;
}

}  // namespace

std::variant<Authenticate, std::string> authenticate_message(const LegacyCrypto& crypto, std::span<const std::uint8_t> negotiate,
                                                             const Challenge& challenge, const Credentials& credentials,
                                                             const Randomness& random, const AuthenticateOptions& options) {
    const std::uint32_t flags = options.flags ? options.flags : ((challenge.flags & (kClientFlags | kTargetInfo)) | kUnicode);
    if (!(flags & kUnicode)) return std::string("Unicode was not negotiated");
    auto key = ntowf_v2(crypto, credentials.user, credentials.password, credentials.domain);
    auto domain = utf16le(credentials.domain);
    auto user = utf16le(credentials.user);
    auto workstation = utf16le(credentials.workstation);
    if (!key || !domain || !user || !workstation) return std::string("the credentials are not valid UTF-8");
    const bool mic = challenge.timestamp.has_value();
    const std::uint64_t time = mic ? *challenge.timestamp : random.now;

    // temp = 0x01 0x01, Z(6), time, client challenge, Z(4), target info, Z(4) (MS-NLMP 3.3.2).
    Bytes temp = {1, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; ++i) temp.push_back(static_cast<std::uint8_t>(time >> (8 * i)));
    append(temp, random.client_challenge);
    put32(temp, 0);
    append(temp, client_target_info(challenge, options, mic));
    put32(temp, 0);

    Bytes proof_input(challenge.server_challenge.begin(), challenge.server_challenge.end());
    append(proof_input, temp);
    const auto nt_proof = crypto.hmac_md5(*key, proof_input);
    Bytes nt_response = nt_proof;
    append(nt_response, temp);
    Bytes lm_response(24, 0);  // Z(24) when the server sent a timestamp (MS-NLMP 3.3.2)
    if (!mic) {
        Bytes lm_input(challenge.server_challenge.begin(), challenge.server_challenge.end());
        append(lm_input, random.client_challenge);
        lm_response = crypto.hmac_md5(*key, lm_input);  // LMv2
        append(lm_response, random.client_challenge);
    }
    Authenticate out;
    out.session_base_key = crypto.hmac_md5(*key, nt_proof);
    ward::crypto::cleanse(key->data(), key->size());
    if (nt_proof.size() != 16 || out.session_base_key.size() != 16) return std::string("HMAC-MD5 failed");
    Bytes encrypted_key;
    if (flags & kKeyExchange) {  // KXKEY is the SessionBaseKey in NTLMv2
        out.exported_session_key.assign(random.session_key.begin(), random.session_key.end());
        encrypted_key = crypto.rc4(out.session_base_key, out.exported_session_key);
        if (encrypted_key.size() != 16) return std::string("RC4 failed");
    } else {
        out.exported_session_key = out.session_base_key;
    }

    // Header, Version, MIC (when one is sent), then the payload.
    const std::size_t header = kAuthenticateHeader + (mic ? 16 : 0);
    Bytes m(kSignature, kSignature + 8);
    put32(m, 3);
    m.resize(header, 0);
    std::size_t offset = header;
    auto place = [&](std::size_t fields, const Bytes& value) {
        set16(m, fields, static_cast<std::uint16_t>(value.size()));
        set16(m, fields + 2, static_cast<std::uint16_t>(value.size()));
        set32(m, fields + 4, static_cast<std::uint32_t>(offset));
        offset += value.size();
    };
    if (lm_response.size() > 0xffff || nt_response.size() > 0xffff || user->size() > 0xffff || domain->size() > 0xffff ||
        workstation->size() > 0xffff)
        return std::string("a field of the AUTHENTICATE message is too long");
    place(28, *domain);
    place(36, *user);
    place(44, *workstation);
    place(12, lm_response);
    place(20, nt_response);
    place(52, encrypted_key);
    set32(m, 60, flags);
    std::memcpy(m.data() + 64, options.version.data(), 8);
    append(m, *domain);
    append(m, *user);
    append(m, *workstation);
    append(m, lm_response);
    append(m, nt_response);
    append(m, encrypted_key);
    if (mic) {
        Bytes all(negotiate.begin(), negotiate.end());
        append(all, challenge.raw);
        append(all, m);  // the MIC field still zero
        const auto code = crypto.hmac_md5(out.exported_session_key, all);
        if (code.size() != 16) return std::string("HMAC-MD5 failed");
        std::memcpy(m.data() + kMicOffset, code.data(), 16);
        out.mic = true;
    }
    out.message = std::move(m);
    return out;
}

std::array<std::uint8_t, 16> channel_bindings_hash(const LegacyCrypto& crypto, std::span<const std::uint8_t> certificate_hash) {
    // gss_channel_bindings_struct: initiator and acceptor address types and lengths zero, then
    // the application data's length and bytes (little-endian, as SSPI lays it out).
    static constexpr std::string_view kPrefix = "tls-server-end-point:";
    Bytes s(16, 0);
    put32(s, static_cast<std::uint32_t>(kPrefix.size() + certificate_hash.size()));
    s.insert(s.end(), kPrefix.begin(), kPrefix.end());
    append(s, certificate_hash);
    const auto digest = crypto.md5(s);
    std::array<std::uint8_t, 16> out{};
    if (digest.size() == 16) std::memcpy(out.data(), digest.data(), 16);
    return out;
}

}  // namespace ward::exchange::ntlm
