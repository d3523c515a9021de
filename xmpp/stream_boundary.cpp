// SPDX-License-Identifier: Apache-2.0
#include "xmpp/stream_boundary.hpp"

#include <expat.h>

#include <new>

namespace ward::xmpp {

namespace {

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// As in the tokenizer: complete tokens must be reported when they arrive, not when more bytes
// follow (expat 2.6's reparse deferral, backported into Debian's 2.5.0).
template <typename Parser>
auto no_reparse_deferral(Parser parser, int) -> decltype(XML_SetReparseDeferralEnabled(parser, XML_FALSE), void()) {
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
}
template <typename Parser>
void no_reparse_deferral(Parser, long) {}

}  // namespace

struct StreamBoundary::Impl {
    XML_Parser parser = nullptr;
    std::size_t depth = 0;             // open elements; the stream element counts as 1
    bool opened = false;               // the stream element was seen
    bool closed = false;
    bool lost = false;
    std::uint64_t fed = 0;             // bytes fed before the current feed
    std::uint64_t boundary_end = 0;    // stream offset just past the last depth-1 boundary
    bool content_since = false;        // non-whitespace after boundary_end

    Impl() {
        parser = XML_ParserCreate("UTF-8");
        if (parser == nullptr) throw std::bad_alloc();
        XML_SetUserData(parser, this);
        XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
        no_reparse_deferral(parser, 0);
        XML_SetElementHandler(parser, &Impl::on_start, &Impl::on_end);
        XML_SetStartDoctypeDeclHandler(parser, &Impl::on_doctype);
    }
    ~Impl() { XML_ParserFree(parser); }

    static Impl& self(void* user) { return *static_cast<Impl*>(user); }

    void mark_boundary() {
        boundary_end = static_cast<std::uint64_t>(XML_GetCurrentByteIndex(parser)) +
                       static_cast<std::uint64_t>(XML_GetCurrentByteCount(parser));
        content_since = false;
    }

    static void XMLCALL on_start(void* user, const XML_Char*, const XML_Char**) {
        Impl& t = self(user);
        ++t.depth;
        if (t.depth == 1) {
            t.opened = true;
            t.mark_boundary();
        }
    }
    static void XMLCALL on_end(void* user, const XML_Char*) {
        Impl& t = self(user);
        if (t.depth > 0) --t.depth;
        if (t.depth == 1) t.mark_boundary();
        if (t.depth == 0) {
            t.closed = true;
            XML_StopParser(t.parser, XML_FALSE);
        }
    }
    static void XMLCALL on_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        Impl& t = self(user);
        t.lost = true;
        XML_StopParser(t.parser, XML_FALSE);
    }

    void feed(std::string_view bytes) {
        if (lost || closed || bytes.empty()) {
            fed += bytes.size();
            return;
        }
        if (XML_Parse(parser, bytes.data(), static_cast<int>(bytes.size()), XML_FALSE) == XML_STATUS_ERROR && !closed)
            lost = true;
        // What came after the last boundary in this feed: whitespace only, or content.
        const std::uint64_t from = boundary_end > fed ? boundary_end - fed : 0;
        for (std::size_t i = static_cast<std::size_t>(from); i < bytes.size() && !content_since; ++i)
            if (!is_xml_space(bytes[i])) content_since = true;
        fed += bytes.size();
    }
};

StreamBoundary::StreamBoundary() : impl_(std::make_unique<Impl>()) {}
StreamBoundary::~StreamBoundary() = default;

void StreamBoundary::feed(std::string_view bytes) {
    // expat takes an int length: feed large spans in pieces.
    constexpr std::size_t kPiece = 1 << 30;
    while (bytes.size() > kPiece) {
        impl_->feed(bytes.substr(0, kPiece));
        bytes.remove_prefix(kPiece);
    }
    impl_->feed(bytes);
}

bool StreamBoundary::at_boundary() const {
    return impl_->opened && !impl_->closed && !impl_->lost && impl_->depth == 1 && !impl_->content_since;
}
bool StreamBoundary::closed() const { return impl_->closed; }
bool StreamBoundary::lost() const { return impl_->lost; }

}  // namespace ward::xmpp
