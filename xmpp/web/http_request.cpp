// SPDX-License-Identifier: Apache-2.0
#include "xmpp/web/http_request.hpp"

#include <functional>

#include "xmpp/web/beast_feed.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>
#include <utility>
#include <variant>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace ward::xmpp::web {

namespace {

using boost::beast::iequals;

bool is_tchar(char c) {
    if (std::isalnum(static_cast<unsigned char>(c))) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct Refusal {
    int status;
    std::string why;
};

// The field lines of a complete header block (CRLF-only, checked by the scan): the rules Beast
// does not enforce.
std::optional<Refusal> check_fields(std::string_view block) {
    // Skip the request line.
    auto at = block.find("\r\n");
    block.remove_prefix(at + 2);
    int content_length = 0, transfer_encoding = 0, host = 0;
    while (!block.empty()) {
        const auto end = block.find("\r\n");
        const auto line = block.substr(0, end);
        block.remove_prefix(end + 2);
        if (line.empty()) break;  // the blank line that ends the block
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return Refusal{400, "a header line without a field name"};
        const auto name = line.substr(0, colon);
        for (char c : name)
            if (!is_tchar(c)) return Refusal{400, "a field name with a character that is not allowed (or space before ':')"};
        // Backends that read headers as variables (prosody, CGI-style servers) turn '-' into '_':
        // X_Forwarded_For would stand in for the X-Forwarded-For ward writes.
        if (name.find('_') != std::string_view::npos)
            return Refusal{400, "a field name with '_' (it would alias a name with '-' at the backend)"};
        const auto value = trim_ows(line.substr(colon + 1));
        for (char c : value) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) return Refusal{400, "a control character in a field value"};
        }
        if (iequals(name, "Content-Length")) {
            if (++content_length > 1) return Refusal{400, "more than one Content-Length"};
            if (value.empty() || value.size() > 18) return Refusal{400, "an invalid Content-Length"};
            for (char c : value)
                if (c < '0' || c > '9') return Refusal{400, "an invalid Content-Length"};
        } else if (iequals(name, "Transfer-Encoding")) {
            if (++transfer_encoding > 1) return Refusal{400, "more than one Transfer-Encoding"};
            if (!iequals(value, "chunked")) return Refusal{501, "a transfer coding other than chunked"};
        } else if (iequals(name, "Host")) {
            if (++host > 1) return Refusal{400, "more than one Host"};
        } else if (iequals(name, "Expect")) {
            if (!iequals(value, "100-continue")) return Refusal{417, "an expectation other than 100-continue"};
        }
    }
    if (content_length && transfer_encoding) return Refusal{400, "both Content-Length and Transfer-Encoding"};
    if (!host) return Refusal{400, "no Host"};
    return std::nullopt;
}

}  // namespace

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct RequestReader::Impl {
    RequestLimits limits;
    std::string pending;
    std::size_t scanned = 0;  // bytes of `pending` the header scan has passed
    std::optional<http::request_parser<http::string_body>> parser;  // once the header block is whole
    bool continue_pending = false;
    bool spent = false;
    std::size_t header_fields = 0;  // fields in the header block: trailers would add to them
    bool stalled = false;           // the last put wanted more
    // A chunked body is counted and kept here, not by Beast: Beast 1.81 takes a chunk's size off
    // its body limit each time it parses the chunk's line, and it parses a line again when an
    // extension runs on past its end, so the same bytes were refused in pieces and not whole.
    std::uint64_t chunked_bytes = 0;
    std::function<std::size_t(std::uint64_t, boost::beast::string_view, boost::system::error_code&)> on_chunk =
        [this](std::uint64_t, boost::beast::string_view body, boost::system::error_code& ec) -> std::size_t {
        if (chunked_bytes + body.size() > limits.body_limit) {
            ec = http::error::body_limit;
            return 0;
        }
        chunked_bytes += body.size();
        parser->get().body().append(body.data(), body.size());
        return body.size();
    };

    ReadResult refuse(int status, std::string why) {
        spent = true;
        parser.reset();
        ReadResult r;
        r.status = ReadResult::Status::refused;
        r.refusal = status;
        r.why = std::move(why);
        return r;
    }

    static ReadResult parse_failure(Impl& self, const boost::system::error_code& ec) {
        if (ec == http::error::header_limit) return self.refuse(431, "the request header is too large");
        if (ec == http::error::body_limit) return self.refuse(413, "the request body is too large");
        if (ec == http::error::bad_version) return self.refuse(505, "not HTTP/1.x");
        return self.refuse(400, "malformed request: " + ec.message());
    }

    // The header scan: where the block ends (just past its blank line), 0 when not yet whole,
    // or a refusal.
    std::variant<std::size_t, Refusal> scan_header() {
        // RFC 9112 section 2.2: empty lines before the request line are ignored.
        if (scanned == 0) {
            std::size_t skip = 0;
            while (pending.size() >= skip + 2 && pending[skip] == '\r' && pending[skip + 1] == '\n') skip += 2;
            pending.erase(0, skip);
            if (pending.size() == 1 && pending[0] == '\r') return std::size_t{0};
        }
        for (std::size_t i = scanned; i < pending.size(); ++i) {
            // Past the limit the block is too large, whatever the byte is: read whole or in
            // pieces, the same answer.
            if (i >= limits.header_limit) return Refusal{431, "the request header is too large"};
            const char c = pending[i];
            if (c == '\r') {
                if (i + 1 == pending.size()) {
                    scanned = i;  // decide when the next byte comes
                    return std::size_t{0};
                }
                if (pending[i + 1] != '\n') return Refusal{400, "a bare CR"};
                continue;
            }
            if (c == '\n') {
                if (i == 0 || pending[i - 1] != '\r') return Refusal{400, "a bare LF"};
                // i + 1 starts a line: the end of the block, obs-fold, or a field.
                if (i >= 3 && pending[i - 2] == '\n' && pending[i - 3] == '\r') {
                    if (i + 1 > limits.header_limit) return Refusal{431, "the request header is too large"};
                    scanned = i + 1;
                    return i + 1;
                }
                continue;
            }
            // A line that starts with white space: obs-fold, or space before the first field.
            if ((c == ' ' || c == '\t') && i > 0 && pending[i - 1] == '\n')
                return Refusal{400, "obs-fold (a header line starting with white space)"};
            if (c == '\0') return Refusal{400, "a NUL byte in the header"};
        }
        scanned = pending.size();
        if (pending.size() > limits.header_limit) return Refusal{431, "the request header is too large"};
        return std::size_t{0};
    }

    ReadResult next() {
        if (spent) return refuse(400, "the connection is already refused");
        if (!parser) {
            auto scan = scan_header();
            if (auto* r = std::get_if<Refusal>(&scan)) return refuse(r->status, r->why);
            const auto end = std::get<std::size_t>(scan);
            if (end == 0) return {};
            if (auto r = check_fields(std::string_view(pending).substr(0, end))) return refuse(r->status, r->why);
            parser.emplace();
            parser->header_limit(static_cast<std::uint32_t>(limits.header_limit));
            parser->body_limit(boost::none);  // ward's own count: on_chunk, and the length below
            parser->on_chunk_body(on_chunk);
            chunked_bytes = 0;
            parser->eager(true);
            boost::system::error_code ec;
            const auto used = parser->put(boost::asio::buffer(pending.data(), end), ec);
            if (ec || used != end || !parser->is_header_done()) {
                if (!ec) return refuse(400, "malformed request header");
                return parse_failure(*this, ec);
            }
            if (const auto length = parser->content_length(); length && *length > limits.body_limit)
                return refuse(413, "the request body is too large");
            const auto version = parser->get().version();
            if (version != 11 && version != 10) return refuse(505, "not HTTP/1.0 or HTTP/1.1");
            pending.erase(0, end);
            scanned = 0;
            stalled = false;
            continue_pending = parser->get().find(http::field::expect) != parser->get().end();
            header_fields = static_cast<std::size_t>(std::distance(parser->get().begin(), parser->get().end()));
        }
        // Beast holds a chunk extension or trailer line unparsed until it ends (and may read an
        // extension on past its line): bounded here. It is never offered more than the bound,
        // so bytes past it decide nothing, whether they came whole or in pieces.
        const std::size_t line_bound = limits.header_limit + 4096;
        while (!parser->is_done() && ready_for_beast(pending, stalled)) {
            boost::system::error_code ec;
            const auto held = pending.size();
            const auto offered = std::min(held, line_bound);
            const auto used = parser->put(boost::asio::buffer(pending.data(), offered), ec);
            pending.erase(0, used);
            if (ec && ec != http::error::need_more) return parse_failure(*this, ec);
            stalled = ec == http::error::need_more;  // what is left waits for more
            // Beast wanting more of a window that cut a line is not waiting for the client:
            // what was held past the window goes on (attacker review: the rest of a complete
            // request was left unread until the deadline).
            if (used == 0 || (stalled && offered == held)) break;
        }
        if (!parser->is_done()) {
            if (pending.size() > line_bound) return refuse(413, "a chunk line is too long");
            return {};
        }
        // Beast adds a chunked body's trailer fields to the header's, past the checks above.
        if (static_cast<std::size_t>(std::distance(parser->get().begin(), parser->get().end())) != header_fields)
            return refuse(400, "trailer fields after a chunked body");
        ReadResult r;
        r.status = ReadResult::Status::request;
        r.request = parser->release();
        parser.reset();
        continue_pending = false;
        return r;
    }
};

RequestReader::RequestReader(RequestLimits limits) : impl_(std::make_unique<Impl>()) { impl_->limits = limits; }
RequestReader::~RequestReader() = default;

void RequestReader::feed(std::string_view bytes) { impl_->pending.append(bytes); }

ReadResult RequestReader::next() { return impl_->next(); }

bool RequestReader::take_continue() {
    if (!impl_->continue_pending || !impl_->parser || impl_->parser->is_done()) return false;
    impl_->continue_pending = false;
    return true;
}

bool RequestReader::started() const {
    // (Empty lines between requests are not a request begun.)
    return impl_->parser.has_value() || impl_->pending.find_first_not_of("\r\n") != std::string::npos;
}

const Request* RequestReader::header() const {
    if (!impl_->parser || !impl_->parser->is_header_done()) return nullptr;
    return &impl_->parser->get();
}

std::string RequestReader::take_rest() { return std::exchange(impl_->pending, {}); }

}  // namespace ward::xmpp::web
