// SPDX-License-Identifier: Apache-2.0
#include "xmpp/stream_tokenizer.hpp"

#include "xmpp/expat_memory.hpp"
#include "xmpp/expat_stream_parser.hpp"

#include <expat.h>

#include <algorithm>
#include <new>

namespace ward::xmpp {

std::string_view condition_name(StreamCondition condition) {
    switch (condition) {
    case StreamCondition::bad_namespace_prefix: return "bad-namespace-prefix";
    case StreamCondition::connection_timeout: return "connection-timeout";
    case StreamCondition::host_unknown: return "host-unknown";
    case StreamCondition::improper_addressing: return "improper-addressing";
    case StreamCondition::invalid_namespace: return "invalid-namespace";
    case StreamCondition::not_authorized: return "not-authorized";
    case StreamCondition::not_well_formed: return "not-well-formed";
    case StreamCondition::policy_violation: return "policy-violation";
    case StreamCondition::remote_connection_failed: return "remote-connection-failed";
    case StreamCondition::restricted_xml: return "restricted-xml";
    case StreamCondition::unsupported_encoding: return "unsupported-encoding";
    case StreamCondition::unsupported_version: return "unsupported-version";
    case StreamCondition::undefined_condition: return "undefined-condition";
    }
    return "undefined-condition";
}

std::optional<std::string_view> StreamHeader::attribute(std::string_view name) const {
    for (const auto& [key, value] : attributes) {
        if (key == name) return std::string_view(value);
    }
    return std::nullopt;
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

namespace {

struct ExpandedName {
    std::string ns;
    std::string local_name;
    std::string qname;
};

ExpandedName split_name(std::string_view name) {
    ExpandedName out;
    const auto first = name.find(kNsSeparator);
    if (first == std::string_view::npos) {
        out.local_name = name;
        out.qname = name;
        return out;
    }
    out.ns = name.substr(0, first);
    const std::string_view rest = name.substr(first + 1);
    const auto second = rest.find(kNsSeparator);
    if (second == std::string_view::npos) {
        out.local_name = rest;
        out.qname = rest;
    } else {
        out.local_name = rest.substr(0, second);
        out.qname = std::string(rest.substr(second + 1)) + ":" + out.local_name;
    }
    return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

// At most a TLS record's worth at a time (see parse()).
constexpr std::size_t kMaxSlice = 16 * 1024;

}  // namespace

struct StreamTokenizer::Impl {
    // (priming: a replacement parser reads the stream's header again; nothing is reported.)
    enum class State { header, stream, after_starttls, done, priming };

    TokenizerLimits limits;
    XML_Parser parser = nullptr;
    State state = State::header;
    std::uint64_t fed = 0;
    // Raw bytes [window_base, fed): everything since the last depth-1 boundary.
    std::uint64_t window_base = 0;
    std::string window;
    // Offset of the last depth-1 boundary; the bytes held past it are what the caps bound.
    std::uint64_t boundary = 0;
    std::size_t open_elements = 0;  // the stream element counts as 1
    std::uint64_t element_start = 0;
    ExpandedName element_name;
    std::uint64_t starttls_end = 0;
    std::vector<std::pair<std::string, std::string>> pending_ns_decls;
    // Namespace declarations of each open element (the stream's first), and their sum.
    std::vector<std::size_t> open_namespaces;
    std::size_t namespaces_in_force = 0;
    std::vector<TokenizerEvent>* events = nullptr;
    // Expat keeps every distinct name of the stream, and its input buffer as large as the largest
    // element, for the parser's life. Past max_parser_memory, at the end of a child of the
    // stream, the parser is replaced by a fresh one that reads the header again (header_raw),
    // and its offsets continue from offset_base.
    std::size_t parser_memory = 0;
    std::string header_raw;
    std::uint64_t offset_base = 0;
    bool replace_pending = false;
    std::uint64_t replacements = 0;

    explicit Impl(TokenizerLimits l) : limits(l) { parser = create_parser(); }

    XML_Parser create_parser() {
        ChargeTo charge(parser_memory);
        XML_Parser p = create_stream_parser(this);
        XML_SetXmlDeclHandler(p, &Impl::on_xml_decl);
        XML_SetStartDoctypeDeclHandler(p, &Impl::on_doctype);
        XML_SetEntityDeclHandler(p, &Impl::on_entity_decl);
        XML_SetCommentHandler(p, &Impl::on_comment);
        XML_SetProcessingInstructionHandler(p, &Impl::on_pi);
        XML_SetNamespaceDeclHandler(p, &Impl::on_ns_decl, nullptr);
        XML_SetElementHandler(p, &Impl::on_start, &Impl::on_end);
        XML_SetCharacterDataHandler(p, &Impl::on_chars);
        return p;
    }

    ~Impl() {
        ChargeTo charge(parser_memory);
        XML_ParserFree(parser);
    }

    // At `boundary` (the end of a child of the stream): a fresh parser, in the header's
    // namespaces, goes on from there.
    void replace_parser() {
        ChargeTo charge(parser_memory);
        replace_pending = false;
        XML_ParserFree(parser);
        parser = nullptr;  // (so a failed create leaves nothing for ~Impl to free twice)
        parser = create_parser();
        offset_base = boundary - header_raw.size();
        state = State::priming;
        const auto status = XML_Parse(parser, header_raw.data(), static_cast<int>(header_raw.size()), XML_FALSE);
        // (It parsed these bytes before with the same settings: only memory can fail it.)
        if (status != XML_STATUS_OK) throw std::bad_alloc();
        state = State::stream;
        ++replacements;
    }

    static Impl& self(void* user) { return *static_cast<Impl*>(user); }

    bool active() const { return state == State::header || state == State::stream; }

    std::uint64_t event_start() const {
        return offset_base + static_cast<std::uint64_t>(XML_GetCurrentByteIndex(parser));
    }
    std::uint64_t event_end() const {
        return event_start() + static_cast<std::uint64_t>(XML_GetCurrentByteCount(parser));
    }

    std::size_t cap() const { return state == State::header ? limits.max_header_size : limits.max_element_size; }

    // The same message whether the cap is hit by a parse event or by bytes held after a feed,
    // so that the events do not depend on the split.
    void fail_oversize() {
        fail(StreamCondition::policy_violation,
             state == State::header ? "stream header exceeds the size limit" : "element exceeds the size limit");
    }

    void fail(StreamCondition condition, std::string detail) {
        events->push_back(TokenizerError{condition, std::move(detail)});
        state = State::done;
        XML_StopParser(parser, XML_FALSE);
    }

    // Checked at every parse event: an event ending past the cap fails exactly as the bytes
    // held would have after a feed that split the input there.
    bool within_cap(std::uint64_t end) {
        if (end - boundary <= cap()) return true;
        fail_oversize();
        return false;
    }

    std::string raw(std::uint64_t from, std::uint64_t to) const {
        return window.substr(static_cast<std::size_t>(from - window_base), static_cast<std::size_t>(to - from));
    }

    static void XMLCALL on_xml_decl(void* user, const XML_Char*, const XML_Char* encoding, int) {
        Impl& t = self(user);
        if (!t.active() || !t.within_cap(t.event_end())) return;
        if (encoding != nullptr && !iequals_ascii(encoding, "UTF-8")) {
            t.fail(StreamCondition::unsupported_encoding, "XML declaration names an encoding other than UTF-8");
        }
    }

    static void XMLCALL on_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        Impl& t = self(user);
        if (!t.active() || !t.within_cap(t.event_end())) return;
        t.fail(StreamCondition::restricted_xml, "DOCTYPE declaration");
    }

    static void XMLCALL on_entity_decl(void* user, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                       const XML_Char*, const XML_Char*, const XML_Char*) {
        // Unreachable while DOCTYPE is refused; kept so no entity is ever declared.
        Impl& t = self(user);
        if (!t.active()) return;
        t.fail(StreamCondition::restricted_xml, "entity declaration");
    }

    static void XMLCALL on_comment(void* user, const XML_Char*) {
        Impl& t = self(user);
        if (!t.active() || !t.within_cap(t.event_end())) return;
        t.fail(StreamCondition::restricted_xml, "comment");
    }

    static void XMLCALL on_pi(void* user, const XML_Char*, const XML_Char*) {
        Impl& t = self(user);
        if (!t.active() || !t.within_cap(t.event_end())) return;
        t.fail(StreamCondition::restricted_xml, "processing instruction");
    }

    static void XMLCALL on_ns_decl(void* user, const XML_Char* prefix, const XML_Char* uri) {
        Impl& t = self(user);
        if (!t.active()) return;
        t.pending_ns_decls.emplace_back(prefix == nullptr ? std::string("xmlns") : std::string("xmlns:") + prefix,
                                        uri == nullptr ? std::string() : std::string(uri));
    }

    // The caps on what expat keeps for the stream's life (TokenizerLimits); on success the
    // element's declarations are in force until its end.
    bool within_name_caps(const XML_Char* name, const XML_Char** atts,
                          const std::vector<std::pair<std::string, std::string>>& ns_decls) {
        bool fits = std::char_traits<char>::length(name) <= limits.max_name_size;
        for (const XML_Char** a = atts; fits && *a != nullptr; a += 2)
            fits = std::char_traits<char>::length(a[0]) <= limits.max_name_size;
        for (const auto& [prefix, uri] : ns_decls)
            fits = fits && prefix.size() <= limits.max_name_size;
        if (!fits) {
            fail(StreamCondition::policy_violation, "an element or attribute name exceeds the size limit");
            return false;
        }
        for (const auto& [prefix, uri] : ns_decls) {
            if (uri.size() > limits.max_namespace_size) {
                fail(StreamCondition::policy_violation, "a namespace name exceeds the size limit");
                return false;
            }
        }
        if (namespaces_in_force + ns_decls.size() > limits.max_open_namespaces) {
            fail(StreamCondition::policy_violation, "too many namespace declarations in force");
            return false;
        }
        namespaces_in_force += ns_decls.size();
        open_namespaces.push_back(ns_decls.size());
        return true;
    }

    static void XMLCALL on_start(void* user, const XML_Char* name, const XML_Char** atts) {
        Impl& t = self(user);
        if (!t.active()) return;
        auto ns_decls = std::move(t.pending_ns_decls);
        t.pending_ns_decls.clear();
        const std::uint64_t end = t.event_end();
        if (!t.within_cap(end)) return;
        ++t.open_elements;
        std::size_t attribute_count = ns_decls.size();
        for (const XML_Char** a = atts; *a != nullptr; a += 2) ++attribute_count;
        if (attribute_count > t.limits.max_attributes) {
            t.fail(StreamCondition::policy_violation, "too many attributes");
            return;
        }
        if (!t.within_name_caps(name, atts, ns_decls)) return;
        if (t.open_elements == 1) {
            ExpandedName n = split_name(name);
            StreamHeader header;
            header.qname = std::move(n.qname);
            header.ns = std::move(n.ns);
            header.local_name = std::move(n.local_name);
            header.attributes = std::move(ns_decls);
            for (const XML_Char** a = atts; *a != nullptr; a += 2) {
                header.attributes.emplace_back(split_name(a[0]).qname, a[1]);
            }
            header.raw = t.raw(0, end);
            t.header_raw = header.raw;
            t.events->push_back(std::move(header));
            t.state = State::stream;
            t.boundary = end;
            return;
        }
        if (t.open_elements - 1 > t.limits.max_depth) {
            t.fail(StreamCondition::policy_violation, "elements nested too deep");
            return;
        }
        if (t.open_elements == 2) {
            t.element_start = t.event_start();
            t.element_name = split_name(name);
        }
    }

    static void XMLCALL on_end(void* user, const XML_Char*) {
        Impl& t = self(user);
        if (!t.active()) return;
        const std::uint64_t end = t.event_end();
        if (!t.within_cap(end)) return;
        const std::size_t closing = t.open_elements--;
        if (!t.open_namespaces.empty()) {
            t.namespaces_in_force -= t.open_namespaces.back();
            t.open_namespaces.pop_back();
        }
        if (closing == 1) {
            t.events->push_back(StreamClosed{end});
            t.state = State::done;
            XML_StopParser(t.parser, XML_FALSE);
            return;
        }
        if (closing != 2) return;
        StreamElement element;
        element.ns = std::move(t.element_name.ns);
        element.local_name = std::move(t.element_name.local_name);
        element.raw = t.raw(t.element_start, end);
        element.end_offset = end;
        t.boundary = end;
        const bool starttls =
            element.ns == kTlsNs && (element.local_name == "starttls" || element.local_name == "proceed");
        t.events->push_back(std::move(element));
        if (starttls) {
            // TLS starts right after this `>` (section 5.4.2.3), whichever side wrote it: parse
            // nothing more.
            t.state = State::after_starttls;
            t.starttls_end = end;
            XML_StopParser(t.parser, XML_FALSE);
        } else if (t.parser_memory > t.limits.max_parser_memory) {
            // Between two children of the stream: parse() replaces the parser here.
            t.replace_pending = true;
            XML_StopParser(t.parser, XML_TRUE);
        }
    }

    static void XMLCALL on_chars(void* user, const XML_Char* s, int len) {
        Impl& t = self(user);
        if (!t.active()) return;
        const std::uint64_t end = t.event_end();
        if (t.open_elements != 1) {
            t.within_cap(end);
            return;
        }
        // Between children only whitespace may appear (keepalives, section 4.6.1). It is
        // consumed, not held, so it is not capped.
        const std::string_view text(s, static_cast<std::size_t>(len));
        if (!std::all_of(text.begin(), text.end(), is_xml_space)) {
            t.fail(StreamCondition::not_well_formed, "text directly inside the stream element");
            return;
        }
        t.boundary = end;
    }

    // Expat detects UTF-16 from a byte order mark or from "<\0" even when told the input is
    // UTF-8, so the first two bytes of the stream are checked before expat sees them (it needs
    // both to detect anything). 0xFE, 0xFF and NUL never start UTF-8 XML.
    static bool looks_like_utf16_or_32(std::string_view bytes, std::uint64_t offset) {
        for (std::size_t i = 0; i < bytes.size() && offset + i < 2; ++i) {
            const auto b = static_cast<unsigned char>(bytes[i]);
            if (b == 0x00 || (offset + i == 0 && (b == 0xfe || b == 0xff))) return true;
        }
        return false;
    }

    void map_expat_error() {
        const XML_Error code = XML_GetErrorCode(parser);
        if (code == XML_ERROR_ABORTED || code == XML_ERROR_NONE) return;
        StreamCondition condition = StreamCondition::not_well_formed;
        switch (code) {
        case XML_ERROR_UNBOUND_PREFIX: condition = StreamCondition::bad_namespace_prefix; break;
        case XML_ERROR_UNKNOWN_ENCODING:
        case XML_ERROR_INCORRECT_ENCODING: condition = StreamCondition::unsupported_encoding; break;
        default: break;
        }
        events->push_back(TokenizerError{condition, std::string("XML error: ") + XML_ErrorString(code)});
        state = State::done;
    }

    // `bytes` are the last ones fed: they begin at stream offset fed - bytes.size().
    void parse(std::string_view bytes) {
        std::uint64_t at = fed - bytes.size();
        while (!bytes.empty() && active()) {
            // At most a TLS record's worth at a time: what follows a replacement is copied into
            // the fresh parser's buffer, which must not start out over the memory bound.
            const std::size_t n = std::min<std::size_t>(bytes.size(), kMaxSlice);
            XML_Status status;
            {
                ChargeTo charge(parser_memory);
                status = XML_Parse(parser, bytes.data(), static_cast<int>(n), XML_FALSE);
            }
            if (status == XML_STATUS_ERROR && active()) map_expat_error();
            if (status == XML_STATUS_SUSPENDED && replace_pending && active()) {
                // Stopped at the end of a child of the stream: the rest goes to a fresh parser.
                const auto used = static_cast<std::size_t>(boundary - at);
                bytes.remove_prefix(used);
                at = boundary;
                replace_parser();
                continue;
            }
            bytes.remove_prefix(n);
            at += n;
        }
    }

    std::vector<TokenizerEvent> feed(std::string_view bytes) {
        std::vector<TokenizerEvent> out;
        if (bytes.empty() || state == State::done) return out;
        events = &out;
        const State entry_state = state;
        fed += bytes.size();
        if (entry_state == State::after_starttls) {
            if (!std::all_of(bytes.begin(), bytes.end(), is_xml_space)) {
                out.push_back(TrailingAfterStarttls{starttls_end});
                state = State::done;
            }
            return out;
        }
        window.append(bytes);
        if (looks_like_utf16_or_32(bytes, fed - bytes.size())) {
            fail(StreamCondition::unsupported_encoding, "stream is not UTF-8 (UTF-16 or UTF-32 byte order)");
        }
        parse(bytes);
        if (state == State::after_starttls && fed > starttls_end) {
            const std::string_view tail = std::string_view(window).substr(static_cast<std::size_t>(starttls_end - window_base));
            if (!std::all_of(tail.begin(), tail.end(), is_xml_space)) {
                out.push_back(TrailingAfterStarttls{starttls_end});
                state = State::done;
            }
        }
        if (active() && fed - boundary > cap()) fail_oversize();
        if (active()) {
            window.erase(0, static_cast<std::size_t>(boundary - window_base));
            window_base = boundary;
        } else {
            window.clear();
            window.shrink_to_fit();
            window_base = fed;
        }
        events = nullptr;
        return out;
    }
};

StreamTokenizer::StreamTokenizer(TokenizerLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
StreamTokenizer::~StreamTokenizer() = default;
StreamTokenizer::StreamTokenizer(StreamTokenizer&&) noexcept = default;
StreamTokenizer& StreamTokenizer::operator=(StreamTokenizer&&) noexcept = default;

std::vector<TokenizerEvent> StreamTokenizer::feed(std::string_view bytes) { return impl_->feed(bytes); }

void StreamTokenizer::set_limits(TokenizerLimits limits) { impl_->limits = limits; }

bool StreamTokenizer::in_stream() const { return impl_->state == Impl::State::stream; }

bool StreamTokenizer::finished() const { return impl_->state == Impl::State::done || impl_->state == Impl::State::after_starttls; }

std::uint64_t StreamTokenizer::bytes_fed() const { return impl_->fed; }

std::size_t StreamTokenizer::held_bytes() const { return impl_->window.size(); }

std::size_t StreamTokenizer::parser_memory() const { return impl_->parser_memory; }

std::uint64_t StreamTokenizer::parser_replacements() const { return impl_->replacements; }

}  // namespace ward::xmpp
