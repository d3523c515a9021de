// SPDX-License-Identifier: Apache-2.0
#include "sip/message_head.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "config/values.hpp"
#include "sip/grammar.hpp"

namespace ward::sip {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kVersion = "SIP/2.0";

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Request-URI: `scheme ":" ...` (RFC 3986 scheme), visible ASCII only. Refuses `/` and `*`, so
// an HTTP request line is not taken for SIP.
bool is_request_uri(std::string_view uri) {
    const auto colon = uri.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_alpha(uri[0])) return false;
    for (std::size_t i = 1; i < colon; ++i) {
        const char c = uri[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
    }
    return std::all_of(uri.begin(), uri.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Log text quoting peer bytes: short, and already free of control bytes (checked before).
std::string quoted(std::string_view s) {
    constexpr std::size_t kMax = 40;
    std::string out = "'";
    out += s.substr(0, kMax);
    if (s.size() > kMax) out += "...";
    out += "'";
    return out;
}

std::optional<FieldKind> classify(std::string_view name, std::string_view identity_name) {
    if (iequals(name, "Content-Length") || iequals(name, "l")) return FieldKind::content_length;
    if (iequals(name, "Via") || iequals(name, "v")) return FieldKind::via;
    if (iequals(name, "From") || iequals(name, "f")) return FieldKind::from;
    if (iequals(name, "To") || iequals(name, "t")) return FieldKind::to;
    if (iequals(name, "Call-ID") || iequals(name, "i")) return FieldKind::call_id;
    if (iequals(name, "CSeq")) return FieldKind::cseq;
    if (iequals(name, "Route")) return FieldKind::route;
    if (iequals(name, "Record-Route")) return FieldKind::record_route;
    if (iequals(name, "Path")) return FieldKind::path;
    if (iequals(name, "Max-Forwards")) return FieldKind::max_forwards;
    if (iequals(name, "Contact") || iequals(name, "m")) return FieldKind::contact;
    if (!identity_name.empty() && iequals(name, identity_name)) return FieldKind::identity;
    return std::nullopt;
}

// `text` reads `<name> *WSP ":"`.
bool starts_header(std::string_view text, std::string_view name) {
    if (text.size() <= name.size() || !iequals(text.substr(0, name.size()), name)) return false;
    text.remove_prefix(name.size());
    while (!text.empty() && is_wsp(text.front())) text.remove_prefix(1);
    return !text.empty() && text.front() == ':';
}

// The name of a header ward reads or rewrites when `text` reads `<name> *WSP ":"`, else "".
std::string_view reserved_name(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return {};
    const auto name = trim_wsp(text.substr(0, colon));
    return config::is_reserved_sip_header(name) ? name : std::string_view{};
}

void take_content_length(std::string_view value, MessageHead& m) {
    if (value.empty() || !std::all_of(value.begin(), value.end(), is_digit)) {
        m.fail(400, "Content-Length " + quoted(value) + " is not a number");
        return;
    }
    // Saturating, so that 2^31, 2^64 and longer are just "too large", never wrapped around.
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t n = 0;
    for (const char c : value) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        n = n > (kMax - digit) / 10 ? kMax : n * 10 + digit;
    }
    if (m.content_length && *m.content_length != n) {
        m.fail(400, "Content-Length given twice with different values (" +
                        std::to_string(*m.content_length) + ", " + std::to_string(n) + ")");
        return;
    }
    m.content_length = n;
}

// The header value of a field: after the colon, to the end of its last line, CRLFs included.
std::string_view field_value(std::string_view head, const Field& f) {
    const auto text = head.substr(f.begin, f.end - f.begin);
    return text.substr(text.find(':') + 1);
}

bool is_lws(char c) { return is_wsp(c) || c == '\r' || c == '\n'; }

std::string_view trim_lws(std::string_view s) {
    while (!s.empty() && is_lws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_lws(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string_view header_value(std::string_view head, const Field& field) { return trim_lws(field_value(head, field)); }

namespace {

// To = ( name-addr / addr-spec ) *( SEMI to-param ). With a name-addr the parameters follow
// the `>`; an addr-spec cannot hold `;` of its own (RFC 3261 section 20), so its parameters
// start at the first `;`. A quoted display-name may hold `<` or `;`, and is skipped.
bool has_tag(std::string_view to_value) {
    std::size_t params = std::string_view::npos;
    bool in_quotes = false;
    for (std::size_t i = 0; i < to_value.size(); ++i) {
        const char c = to_value[i];
        if (in_quotes) {
            if (c == '\\') ++i;
            else if (c == '"') in_quotes = false;
        } else if (c == '"') {
            in_quotes = true;
        } else if (c == '<') {
            const auto gt = to_value.find('>', i);
            if (gt == std::string_view::npos) return false;
            params = gt + 1;
            break;
        } else if (c == ';') {
            params = i;
            break;
        }
    }
    if (params == std::string_view::npos) return false;
    auto rest = to_value.substr(params);
    while (!rest.empty()) {
        const auto semi = rest.find(';');
        auto param = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        const auto name = trim_lws(param.substr(0, param.find('=')));
        if (iequals(name, "tag")) return true;
    }
    return false;
}

// FNV-1a, 32 bits: a stable tag, not a secret.
std::uint32_t fnv1a(std::uint32_t h, std::string_view s) {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 16777619u;
    }
    return h;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 408: return "Request Timeout";
        case 430: return "Flow Failed";
        case 483: return "Too Many Hops";
        case 513: return "Message Too Large";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

}  // namespace

void MessageHead::fail(int status, std::string why) {
    if (error_status != 0) return;  // the first problem is the one worth logging
    error_status = status;
    error = std::move(why);
}

void MessageHead::clear() {
    start = {};
    fields.clear();
    content_length.reset();
    error_status = 0;
    error.clear();
}

std::optional<StartLine> parse_start_line(std::string_view line) {
    if (line.size() > kVersion.size() && iequals(line.substr(0, kVersion.size()), kVersion) &&
        line[kVersion.size()] == ' ') {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        const auto rest = line.substr(kVersion.size() + 1);
        if (rest.size() < 4 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2]) ||
            rest[3] != ' ' || rest[0] < '1' || rest[0] > '6') {
            return std::nullopt;
        }
        const auto reason = rest.substr(4);
        if (!std::all_of(reason.begin(), reason.end(), is_line_char)) return std::nullopt;
        StartLine s;
        s.kind = MessageKind::response;
        s.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
        return s;
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return std::nullopt;
    const auto method = line.substr(0, sp1);
    const auto uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (!is_token(method) || !is_request_uri(uri) || !iequals(version, kVersion)) {
        return std::nullopt;
    }
    StartLine s;
    s.kind = MessageKind::request;
    s.method = method;
    return s;
}

void parse_message_head(std::string_view head, bool complete, std::string_view identity_name,
                        MessageHead& m) {
    m.clear();
    const auto start_end = head.find(kCrlf);
    const auto start = start_end == std::string_view::npos
                           ? std::nullopt
                           : parse_start_line(head.substr(0, start_end));
    if (!start) {
        m.fail(400, "not a SIP start-line");
        return;
    }
    m.start = *start;

    std::size_t pos = start_end + kCrlf.size();
    // Just past the last header line: before the empty line, or the end of a cut head.
    const std::size_t end = std::max(pos, complete ? head.size() - kCrlf.size() : head.size());

    bool in_header = false;  // a header line precedes: a continuation line extends it
    bool recorded = false;   // ... and it is m.fields.back()
    while (pos < end) {
        const auto eol = head.find(kCrlf, pos);  // found: `end` follows a CRLF
        const auto line = head.substr(pos, eol - pos);
        const auto next = eol + kCrlf.size();

        if (!std::all_of(line.begin(), line.end(), is_line_char)) {
            m.fail(400, "header line with a control byte or a bare CR or LF");
            in_header = recorded = false;
        } else if (!line.empty() && is_wsp(line.front())) {
            // Obsolete line folding (RFC 3261 section 7.3.1).
            if (!in_header) {
                m.fail(400, "continuation line without a header to continue");
            } else if (recorded && (m.fields.back().kind == FieldKind::content_length ||
                                    m.fields.back().kind == FieldKind::identity)) {
                m.fail(400, m.fields.back().kind == FieldKind::content_length
                                ? "folded Content-Length"
                                : "folded identity header");
            } else if (!identity_name.empty() &&
                       starts_header(trim_wsp(line), identity_name)) {
                m.fail(400, "identity header hidden in a continuation line");
            } else if (const auto hidden = reserved_name(trim_wsp(line)); !hidden.empty()) {
                // A backend that does not unfold would see a header ward did not read.
                m.fail(400, "header " + quoted(hidden) + " hidden in a continuation line");
            } else if (recorded) {
                m.fields.back().end = next;
            }
        } else {
            const auto colon = line.find(':');
            const auto name = colon == std::string_view::npos ? std::string_view{}
                                                              : trim_wsp(line.substr(0, colon));
            if (!is_token(name)) {
                m.fail(400, "malformed header line " + quoted(line));
                in_header = recorded = false;
            } else {
                const auto kind = classify(name, identity_name);
                in_header = true;
                recorded = kind.has_value();
                if (kind) m.fields.push_back(Field{*kind, pos, next});
                if (kind == FieldKind::content_length) {
                    take_content_length(trim_wsp(line.substr(colon + 1)), m);
                }
            }
        }
        pos = next;
    }
}

namespace {

// A field as one line: each fold (CRLF, then white space) becomes one SP (RFC 3261 section
// 7.3.1), so that nothing a peer put in a continuation line reads as a line of its own in
// ward's answer. The field's own CRLF stays.
std::string unfolded(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\r' && i + 2 < field.size() && field[i + 1] == '\n' && is_wsp(field[i + 2])) {
            i += 2;
            while (i + 1 < field.size() && is_wsp(field[i + 1])) ++i;
            out += ' ';
            continue;
        }
        out += field[i];
    }
    return out;
}

}  // namespace

std::string error_response(int status, std::string_view head, const MessageHead& parsed) {
    // Method names are case-sensitive (RFC 3261 section 7.1): only "ACK" is an ACK.
    if (parsed.start.kind != MessageKind::request || parsed.start.method == "ACK") return {};
    const Field* from = nullptr;
    const Field* to = nullptr;
    const Field* call_id = nullptr;
    const Field* cseq = nullptr;
    int vias = 0, froms = 0, tos = 0, call_ids = 0, cseqs = 0;
    for (const auto& f : parsed.fields) {
        switch (f.kind) {
            case FieldKind::via: ++vias; break;
            case FieldKind::from: ++froms; from = &f; break;
            case FieldKind::to: ++tos; to = &f; break;
            case FieldKind::call_id: ++call_ids; call_id = &f; break;
            case FieldKind::cseq: ++cseqs; cseq = &f; break;
            default: break;
        }
    }
    if (vias == 0 || froms != 1 || tos != 1 || call_ids != 1 || cseqs != 1) return {};

    const auto text = [&](const Field* f) { return unfolded(head.substr(f->begin, f->end - f->begin)); };
    std::string out = "SIP/2.0 " + std::to_string(status) + " ";
    out += reason_phrase(status);
    out += kCrlf;
    for (const auto& f : parsed.fields) {
        if (f.kind == FieldKind::via) out += text(&f);
    }
    out += text(from);
    if (has_tag(field_value(head, *to))) {
        out += text(to);
    } else {
        // RFC 3261 section 8.2.6.2: a response other than 100 carries a To tag.
        // The tag goes after the value: trailing white space goes first (a value that ended in a
        // whitespace-only continuation line would otherwise leave the tag after a space).
        auto line = text(to);
        while (!line.empty() && (is_wsp(line.back()) || line.back() == '\r' || line.back() == '\n')) line.pop_back();
        std::uint32_t h = 2166136261u;
        h = fnv1a(h, text(from));
        h = fnv1a(h, text(call_id));
        h = fnv1a(h, text(cseq));
        char tag[16];
        std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(h));
        out += line;
        out += ";tag=ward-";
        out += tag;
        out += kCrlf;
    }
    out += text(call_id);
    out += text(cseq);
    out += "Content-Length: 0\r\n\r\n";
    return out;
}

std::string answer_to(int status, std::string_view message) {
    const auto end = message.find("\r\n\r\n");
    if (end == std::string_view::npos) return {};
    const auto head = message.substr(0, end + 4);
    MessageHead parsed;
    parse_message_head(head, true, {}, parsed);
    return error_response(status, head, parsed);
}

}  // namespace ward::sip
