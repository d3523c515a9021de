// libFuzzer: the SIP framer, both directions, the input cut into chunks where its first byte says.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/framer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;  // chunk size: every split point gets exercised
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    static const auto stamp = ward::sip::IdentityStamp::make("X-Ward-TLS-Peer", "peer.example", "sip", "ctx");
    for (auto direction : {ward::sip::Direction::from_peer, ward::sip::Direction::from_backend}) {
        ward::sip::Framer framer(direction, {4096, 8192},
                                 direction == ward::sip::Direction::from_peer ? std::optional(*stamp) : std::nullopt);
        for (std::size_t pos = 0; pos < in.size() && !framer.closed(); pos += step) framer.feed(in.substr(pos, step));
    }
    return 0;
}
