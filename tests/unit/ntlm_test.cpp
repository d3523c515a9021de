// SPDX-License-Identifier: Apache-2.0
// NTLMv2 (proxy/exchange/ntlm) against the worked example of MS-NLMP section 4.2.4, the
// CHALLENGE parser against hostile messages at every length, and the HTTP authentication
// helpers (proxy/exchange/http_auth).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "proxy/exchange/http_auth.hpp"
#include "proxy/exchange/ntlm.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward::exchange;
using ntlm::Bytes;

namespace {

Bytes unhex(std::string_view s) {
    Bytes out;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        if (s[i] == ' ') {
            --i;
            continue;
        }
        out.push_back(static_cast<std::uint8_t>(nibble(s[i]) * 16 + nibble(s[i + 1])));
    }
    return out;
}

std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto c : b) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

const ntlm::LegacyCrypto& crypto() {
    const auto* c = ntlm::LegacyCrypto::get();
    REQUIRE_MESSAGE(c != nullptr, ntlm::LegacyCrypto::unavailable_reason());
    return *c;
}

// MS-NLMP 4.2.4.3: the CHALLENGE message of the NTLMv2 example (flags 0xe28a8233, server
// challenge 0123456789abcdef, target name "Server", target info NbDomainName "Domain" and
// NbComputerName "Server").
const char* const kSpecChallenge =
    "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000"
    "060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c00530065007200"
    "76006500720000000000";

// MS-NLMP 4.2.4.3: the AUTHENTICATE message (user "User", domain "Domain", workstation
// "COMPUTER", client challenge aa*8, time 0, random session key 55*16, flags 0xe2888235).
const char* const kSpecAuthenticate =
    "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010"
    "005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e0055007300650072004300"
    "4f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aa"
    "bc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d006100"
    "69006e0001000c005300650072007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e";

ntlm::Challenge spec_challenge() {
    auto parsed = ntlm::parse_challenge(unhex(kSpecChallenge));
    REQUIRE(std::holds_alternative<ntlm::Challenge>(parsed));
    return std::get<ntlm::Challenge>(parsed);
}

ntlm::Randomness spec_randomness() {
    ntlm::Randomness r;
    r.client_challenge.fill(0xaa);
    r.session_key.fill(0x55);
    r.now = 0;
    return r;
}

const ntlm::Credentials kSpecUser{"User", "Password", "Domain", "COMPUTER"};

}  // namespace

TEST_CASE("ntlm: the MS-NLMP 4.2.4 values: NTOWFv2 and NTProofStr and the session base key") {
    const auto& c = crypto();
    auto key = ntlm::ntowf_v2(c, "User", "Password", "Domain");
    REQUIRE(key);
    CHECK(hex(*key) == "0c868a403bfd7a93a3001ef22ef02e3f");
    // The user name is upper-cased, the domain is not (section 3.3.2).
    CHECK(hex(*ntlm::ntowf_v2(c, "user", "Password", "Domain")) == "0c868a403bfd7a93a3001ef22ef02e3f");
    CHECK(hex(*ntlm::ntowf_v2(c, "User", "Password", "DOMAIN")) != "0c868a403bfd7a93a3001ef22ef02e3f");
    CHECK(hex(c.md4(*ntlm::utf16le("Password"))) == "a4f49c406510bdcab6824ee7c30fd852");
    CHECK_FALSE(ntlm::ntowf_v2(c, "User", "\xff", "Domain"));

    ntlm::AuthenticateOptions spec;
    spec.flags = 0xe2888235;
    spec.version = {5, 1, 0x28, 0x0a, 0, 0, 0, 15};
    auto made = ntlm::authenticate_message(c, ntlm::negotiate_message(), spec_challenge(), kSpecUser, spec_randomness(), spec);
    REQUIRE(std::holds_alternative<ntlm::Authenticate>(made));
    const auto& a = std::get<ntlm::Authenticate>(made);
    CHECK(hex(a.session_base_key) == "8de40ccadbc14a82f15cb0ad0de95ca3");
    CHECK(hex(a.exported_session_key) == "55555555555555555555555555555555");
    CHECK_FALSE(a.mic);
    // The whole AUTHENTICATE message, byte for byte: LMv2, NTProofStr + temp, the encrypted key.
    CHECK(hex(a.message) == kSpecAuthenticate);
}

TEST_CASE("ntlm: with a server timestamp the MIC is sent and checks out and the LM response is zero") {
    const auto& c = crypto();
    // The spec's challenge with MsvAvTimestamp added to its target info.
    Bytes info = unhex("02000c0044006f006d00610069006e0001000c0053006500720076006500720007000800");
    const Bytes stamp = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    info.insert(info.end(), stamp.begin(), stamp.end());
    info.insert(info.end(), {0, 0, 0, 0});
    Bytes m = unhex(kSpecChallenge);
    m.resize(0x44);
    m.insert(m.end(), info.begin(), info.end());
    m[40] = m[42] = static_cast<std::uint8_t>(info.size());
    auto parsed = ntlm::parse_challenge(m);
    REQUIRE(std::holds_alternative<ntlm::Challenge>(parsed));
    const auto& challenge = std::get<ntlm::Challenge>(parsed);
    REQUIRE(challenge.timestamp);
    CHECK(*challenge.timestamp == 0x0807060504030201ULL);

    const auto negotiate = ntlm::negotiate_message();
    std::array<std::uint8_t, 16> bindings{};
    bindings.fill(0x11);
    ntlm::AuthenticateOptions options;
    options.target_name = "HTTP/exchange.example";
    options.channel_bindings = bindings;
    auto made = ntlm::authenticate_message(c, negotiate, challenge, kSpecUser, spec_randomness(), options);
    REQUIRE(std::holds_alternative<ntlm::Authenticate>(made));
    const auto& a = std::get<ntlm::Authenticate>(made);
    CHECK(a.mic);
    const auto& msg = a.message;
    auto field = [&](std::size_t at) {
        const std::size_t len = msg[at] | (msg[at + 1] << 8);
        const std::size_t off = msg[at + 4] | (msg[at + 5] << 8);
        return Bytes(msg.begin() + static_cast<std::ptrdiff_t>(off), msg.begin() + static_cast<std::ptrdiff_t>(off + len));
    };
    CHECK(field(12) == Bytes(24, 0));  // Z(24)
    const auto nt = field(20);
    REQUIRE(nt.size() > 24);  // an NTLMv2 response, never a 24-byte NTLMv1 one
    // The blob carries the server's time, and MsvAvFlags with "MIC present", the channel
    // bindings and the target name.
    CHECK(Bytes(nt.begin() + 24, nt.begin() + 32) == stamp);
    const std::string blob = hex(Bytes(nt.begin() + 16, nt.end()));
    CHECK(blob.find("0600040002000000") != std::string::npos);
    CHECK(blob.find("0a001000" + std::string(32, '1')) != std::string::npos);
    CHECK(blob.find(hex(*ntlm::utf16le("HTTP/exchange.example"))) != std::string::npos);
    // Recomputed independently here: MIC = HMAC-MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE +
    // AUTHENTICATE with the MIC zeroed).
    Bytes zeroed = msg;
    std::fill(zeroed.begin() + 72, zeroed.begin() + 88, 0);
    Bytes all = negotiate;
    all.insert(all.end(), m.begin(), m.end());
    all.insert(all.end(), zeroed.begin(), zeroed.end());
    CHECK(c.hmac_md5(a.exported_session_key, all) == Bytes(msg.begin() + 72, msg.begin() + 88));
    // Key exchange was negotiated (the spec's server offers it): the exported key is the random one.
    CHECK(hex(a.exported_session_key) == "55555555555555555555555555555555");
    CHECK(field(52).size() == 16);
}

TEST_CASE("ntlm: hostile CHALLENGE messages are refused at every length and never read out of bounds") {
    const Bytes good = unhex(kSpecChallenge);
    // Every truncation.
    for (std::size_t n = 0; n < good.size(); ++n) {
        auto r = ntlm::parse_challenge(std::span(good.data(), n));
        CHECK_MESSAGE(std::holds_alternative<std::string>(r), "length " << n);
    }
    // Offsets and lengths out of range, at every byte of the two field descriptors.
    for (std::size_t at : {12u, 14u, 16u, 17u, 18u, 19u, 40u, 42u, 44u, 45u, 46u, 47u}) {
        for (std::uint8_t v : {0x00, 0x01, 0x30, 0x7f, 0x80, 0xff}) {
            Bytes m = good;
            m[at] = v;
            auto r = ntlm::parse_challenge(m);
            if (auto* c = std::get_if<ntlm::Challenge>(&r)) {
                // Accepted only when it still lies inside the message.
                CHECK(c->target_info.size() <= m.size());
            }
        }
    }
    auto refused = [](const Bytes& m, std::string_view why) {
        auto r = ntlm::parse_challenge(m);
        REQUIRE(std::holds_alternative<std::string>(r));
        CHECK_MESSAGE(std::get<std::string>(r).find(why) != std::string::npos, std::get<std::string>(r));
    };
    Bytes m = good;
    m[8] = 3;
    refused(m, "not a CHALLENGE");
    m = good;
    m[0] = 'X';
    refused(m, "signature");
    // No target info: an NTLMv1-only server.
    m = good;
    m[22] &= static_cast<std::uint8_t>(~0x80);  // NTLMSSP_NEGOTIATE_TARGET_INFO off
    refused(m, "no target info");
    m = good;
    m[40] = m[41] = m[42] = m[43] = 0;
    refused(m, "no target info");
    // LM keys without extended session security, OEM only, anonymous.
    m = good;
    m[20] |= 0x80;
    m[22] &= static_cast<std::uint8_t>(~0x08);
    refused(m, "LM session keys");
    m = good;
    m[20] &= static_cast<std::uint8_t>(~0x01);
    refused(m, "OEM");
    m = good;
    m[21] |= 0x08;
    refused(m, "anonymous");
    // AV pairs: a length past the end, no MsvAvEOL, a timestamp of the wrong size.
    m = good;
    m[0x44 + 2] = 0xff;
    refused(m, "past the target info");
    m = good;
    m[m.size() - 4] = 9;  // the EOL becomes a pair with no room for its header
    refused(m, "");
    m = good;
    m.resize(m.size() - 4);
    m[40] = m[42] = 32;
    refused(m, "ends inside an AV pair");
    // Huge target info: refused beyond the limit, however well-formed.
    m = unhex(kSpecChallenge);
    m.resize(0x44);
    Bytes info;
    while (info.size() < ntlm::kMaxTargetInfo + 100) info.insert(info.end(), {0x01, 0x00, 0x02, 0x00, 'a', 0});
    info.insert(info.end(), {0, 0, 0, 0});
    m.insert(m.end(), info.begin(), info.end());
    m[40] = m[42] = 0xff;  // length field saturates at 65535: larger than the info, refused as outside
    m[41] = m[43] = 0xff;
    refused(m, "outside");
    m[40] = m[42] = static_cast<std::uint8_t>(info.size());
    m[41] = m[43] = static_cast<std::uint8_t>(info.size() >> 8);
    refused(m, "at most");
}

TEST_CASE("ntlm: no LM or NTLMv1 response is ever produced and bad credentials are refused") {
    const auto& c = crypto();
    // Whatever flags the server sets, the NT response is an NTLMv2 one.
    for (std::uint32_t extra : {0u, ntlm::kLmKey | ntlm::kExtendedSessionSecurity, ntlm::k56, ntlm::kKeyExchange}) {
        Bytes m = unhex(kSpecChallenge);
        for (int i = 0; i < 4; ++i) m[20 + i] |= static_cast<std::uint8_t>(extra >> (8 * i));
        auto parsed = ntlm::parse_challenge(m);
        REQUIRE(std::holds_alternative<ntlm::Challenge>(parsed));
        auto made = ntlm::authenticate_message(c, ntlm::negotiate_message(), std::get<ntlm::Challenge>(parsed), kSpecUser,
                                               ntlm::Randomness::fresh());
        REQUIRE(std::holds_alternative<ntlm::Authenticate>(made));
        const auto& msg = std::get<ntlm::Authenticate>(made).message;
        const std::size_t nt_len = msg[20] | (msg[21] << 8);
        CHECK(nt_len > 24);
    }
    ntlm::Credentials bad = kSpecUser;
    bad.password = "\xc3";
    CHECK(std::holds_alternative<std::string>(
        ntlm::authenticate_message(c, ntlm::negotiate_message(), spec_challenge(), bad, spec_randomness())));
    // The NEGOTIATE message asks for NTLM with extended session security, never LM keys.
    const auto neg = ntlm::negotiate_message();
    const std::uint32_t flags = neg[12] | (neg[13] << 8) | (neg[14] << 16) | (static_cast<std::uint32_t>(neg[15]) << 24);
    CHECK((flags & ntlm::kLmKey) == 0);
    CHECK((flags & ntlm::kExtendedSessionSecurity) != 0);
}

TEST_CASE("http auth: challenges and tokens and Basic") {
    auto offers = parse_challenges({"Negotiate, NTLM", "Basic realm=\"exchange, a, b\", charset=\"UTF-8\""});
    REQUIRE(offers.size() == 3);
    CHECK(offers[0].scheme == "negotiate");
    CHECK(offers[1].scheme == "ntlm");
    CHECK(offers[2].scheme == "basic");
    CHECK(ntlm_scheme(offers) == "NTLM");
    CHECK(ntlm_scheme(parse_challenges({"Negotiate"})) == "Negotiate");
    CHECK_FALSE(ntlm_scheme(parse_challenges({"Basic realm=x", "Bearer error=\"invalid\""})));
    auto with_token = parse_challenges({"NTLM TlRMTVNTUAACAAAA"});
    REQUIRE(with_token.size() == 1);
    CHECK(with_token[0].token == "TlRMTVNTUAACAAAA");
    auto token = ntlm_token(with_token, "NTLM");
    REQUIRE(token);
    CHECK(token->size() == 12);
    CHECK_FALSE(ntlm_token(parse_challenges({"NTLM !!!!"}), "NTLM"));
    CHECK_FALSE(ntlm_token(parse_challenges({"NTLM"}), "NTLM"));
    CHECK(basic_authorization("alice", "s3cret:x") == "Basic YWxpY2U6czNjcmV0Ong=");
    CHECK(ntlm_authorization("Negotiate", {'N', 'T'}) == "Negotiate TlQ=");
}

TEST_CASE("http auth: the credentials file is read strictly and only when private") {
    ward::test::TempDir dir;
    const auto file = dir.path() / "creds";
    auto write = [&](const std::string& text, mode_t mode) {
        std::ofstream(file, std::ios::trunc) << text;
        ::chmod(file.c_str(), mode);
    };
    write("# EWS account\nuser=alice\npassword= with spaces:and colons \n", 0600);
    auto ok = read_credentials(file);
    REQUIRE(std::holds_alternative<Credentials>(ok));
    CHECK(std::get<Credentials>(ok).user == "alice");
    CHECK(std::get<Credentials>(ok).password == " with spaces:and colons ");
    // A symbolic link is not followed (the file it names could be anyone's).
    const auto link = dir.path() / "link";
    std::filesystem::create_symlink(file, link);
    auto linked = read_credentials(link);
    REQUIRE(std::holds_alternative<std::string>(linked));
    CHECK(std::get<std::string>(linked).find("symbolic link") != std::string::npos);
    write("user=alice\npassword=secret\n", 0640);
    auto open = read_credentials(file);
    REQUIRE(std::holds_alternative<std::string>(open));
    CHECK(std::get<std::string>(open).find("0600") != std::string::npos);
    for (const char* bad : {"user=alice\n", "password=x\n", "user=a:b\npassword=x\n", "user=alice\nsecret-line\npassword=x\n",
                            "user=alice\npassword=\x01\n"}) {
        write(bad, 0600);
        auto r = read_credentials(file);
        REQUIRE(std::holds_alternative<std::string>(r));
        // The reason never repeats the file's contents.
        CHECK(std::get<std::string>(r).find("secret-line") == std::string::npos);
    }
}
