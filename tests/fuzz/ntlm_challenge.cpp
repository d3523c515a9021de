// SPDX-License-Identifier: Apache-2.0
// The NTLM CHALLENGE parser and the AUTHENTICATE message built from what it accepts, and the
// WWW-Authenticate parser: what a hostile Exchange server sends ward (proxy/exchange/).
// Invariants: no crash, no out-of-bounds read (ASan), every field of an AUTHENTICATE message
// ward builds lies inside it, and its NT response is an NTLMv2 one (never 24 bytes).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/exchange/http_auth.hpp"
#include "proxy/exchange/ntlm.hpp"

namespace ntlm = ward::exchange::ntlm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    auto parsed = ntlm::parse_challenge(bytes);
    if (auto* challenge = std::get_if<ntlm::Challenge>(&parsed)) {
        if (challenge->target_info.size() > ntlm::kMaxTargetInfo || challenge->raw.size() != size) std::abort();
        static const ntlm::LegacyCrypto* crypto = ntlm::LegacyCrypto::get();
        if (crypto) {
            ntlm::Randomness random;
            random.client_challenge.fill(0xaa);
            random.session_key.fill(0x55);
            ntlm::AuthenticateOptions options;
            options.target_name = "HTTP/exchange.example";
            options.channel_bindings = std::array<std::uint8_t, 16>{};
            auto made = ntlm::authenticate_message(*crypto, ntlm::negotiate_message(), *challenge,
                                                   {"user", "password", "DOMAIN", "WARD"}, random, options);
            if (auto* a = std::get_if<ntlm::Authenticate>(&made)) {
                const auto& m = a->message;
                for (std::size_t at : {12u, 20u, 28u, 36u, 44u, 52u}) {
                    const std::size_t length = m[at] | (m[at + 1] << 8);
                    const std::size_t offset = m[at + 4] | (m[at + 5] << 8) | (m[at + 6] << 16) |
                                               (static_cast<std::size_t>(m[at + 7]) << 24);
                    if (offset + length > m.size()) std::abort();
                }
                const std::size_t nt = m[20] | (m[21] << 8);
                if (nt <= 24) std::abort();
            }
        }
    }
    // The same bytes as WWW-Authenticate values.
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto offers = ward::exchange::parse_challenges({text, text.substr(size / 2)});
    if (auto scheme = ward::exchange::ntlm_scheme(offers)) (void)ward::exchange::ntlm_token(offers, *scheme);
    return 0;
}
