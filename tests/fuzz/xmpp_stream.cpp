// libFuzzer: the XMPP stream tokenizer, the input cut into chunks where its first byte says.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "xmpp/stream_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    ward::xmpp::StreamTokenizer tokenizer;
    for (std::size_t pos = 0; pos < in.size() && !tokenizer.finished(); pos += step) tokenizer.feed(in.substr(pos, step));
    return 0;
}
