// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the XMPP stream tokenizer, the input cut into chunks where its first byte says,
// with a differential check: where the tokenizer accepted the input (no stream error, stream
// still open), the ends of the stream's children it reported must be exactly those expat finds
// in one parse of the whole input (no namespaces, no chunking, no ward code in between).
// The relay's boundary scanner (xmpp/stream_boundary) is checked beside it: the same answers at
// any chunking, and a boundary (or a lost position) at every end the tokenizer reported.
#include <expat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>
#include <vector>

#include "xmpp/stream_boundary.hpp"
#include "xmpp/stream_tokenizer.hpp"

namespace {

struct Reference {
    XML_Parser parser = nullptr;
    int depth = 0;
    std::uint64_t start_end = 0;  // just past the last start tag (an empty element's end)
    std::vector<std::uint64_t> ends;
};

void XMLCALL on_start(void* data, const XML_Char*, const XML_Char**) {
    auto* r = static_cast<Reference*>(data);
    ++r->depth;
    r->start_end = static_cast<std::uint64_t>(XML_GetCurrentByteIndex(r->parser) + XML_GetCurrentByteCount(r->parser));
}

void XMLCALL on_end(void* data, const XML_Char*) {
    auto* r = static_cast<Reference*>(data);
    if (--r->depth != 1) return;
    const int count = XML_GetCurrentByteCount(r->parser);  // 0 for the end of an empty element
    r->ends.push_back(count ? static_cast<std::uint64_t>(XML_GetCurrentByteIndex(r->parser) + count) : r->start_end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    ward::xmpp::StreamTokenizer tokenizer;
    std::vector<std::uint64_t> ends;
    bool header = false;
    bool comparable = true;  // no error, no close, no STARTTLS: the stream is open and accepted
    for (std::size_t pos = 0; pos < in.size() && !tokenizer.finished(); pos += step) {
        for (const auto& event : tokenizer.feed(in.substr(pos, step))) {
            if (std::holds_alternative<ward::xmpp::StreamHeader>(event)) header = true;
            else if (const auto* e = std::get_if<ward::xmpp::StreamElement>(&event)) ends.push_back(e->end_offset);
            else comparable = false;
        }
    }
    ward::xmpp::StreamBoundary whole, chunked;
    whole.feed(in);
    for (std::size_t pos = 0; pos < in.size(); pos += step) chunked.feed(in.substr(pos, step));
    if (whole.at_boundary() != chunked.at_boundary() || whole.closed() != chunked.closed() ||
        whole.lost() != chunked.lost())
        std::abort();
    if (!header || !comparable || tokenizer.finished()) return 0;
    ward::xmpp::StreamBoundary at_ends;
    std::uint64_t fed = 0;
    for (const auto end : ends) {
        at_ends.feed(in.substr(static_cast<std::size_t>(fed), static_cast<std::size_t>(end - fed)));
        fed = end;
        if (!at_ends.at_boundary() && !at_ends.lost()) std::abort();
    }
    Reference reference;
    reference.parser = XML_ParserCreate("UTF-8");
    XML_SetUserData(reference.parser, &reference);
    XML_SetElementHandler(reference.parser, on_start, on_end);
    const auto status = XML_Parse(reference.parser, in.data(), static_cast<int>(in.size()), XML_FALSE);
    XML_ParserFree(reference.parser);
    // The tokenizer accepted every byte: expat must too, and find the same children.
    if (status != XML_STATUS_OK) std::abort();
    if (reference.ends != ends) std::abort();
    return 0;
}
