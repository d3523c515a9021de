// SPDX-License-Identifier: Apache-2.0
#include "sip/framer.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>

#include "sip/grammar.hpp"

namespace ward::sip {

namespace {

constexpr std::string_view kCrlf = "\r\n";

// Progress through "\r\n\r\n" after one more byte. After "\r\r" the second CR may still begin
// the terminator, so a CR always leaves at least 1.
int next_match(int match, char c) {
    if (c == '\r') return match == 2 ? 3 : 1;
    if (c == '\n') return (match == 1 || match == 3) ? match + 1 : 0;
    return 0;
}

// Peer bytes for a log line: short, and only printable ASCII.
std::string printable(std::string_view s) {
    constexpr std::size_t kMax = 40;
    std::string out = "'";
    for (const char c : s.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > kMax) out += "...";
    out += "'";
    return out;
}

std::string byte_text(char c) {
    char text[8];
    const auto byte = static_cast<unsigned char>(c);
    std::snprintf(text, sizeof text, "0x%02x", static_cast<unsigned>(byte));
    return text;
}

// "INVITE request: ", "response 200: " for the log line.
std::string what(const MessageHead& m) {
    if (m.start.kind == MessageKind::response) {
        return "response " + std::to_string(m.start.status) + ": ";
    }
    return printable(m.start.method) + " request: ";
}

}  // namespace

FramerLimits framer_limits(const config::SipListenerOptions& options) {
    return FramerLimits{options.max_header_size, options.max_body_size};
}

Framer::Framer(Direction direction, FramerLimits limits, std::optional<IdentityStamp> stamp, HeadHook* hook)
    : direction_(direction), limits_(limits), stamp_(std::move(stamp)), hook_(hook) {
    // The backend is trusted: nothing of ward's to assert towards the peer.
    assert(direction_ == Direction::from_peer || !stamp_);
}

FramerOutput Framer::feed(std::string_view bytes) {
    FramerOutput out;
    if (state_ == State::closed) {
        out.close = true;
        out.error = "SIP framer fed after it closed";
        return out;
    }
    std::size_t pos = 0;
    while (pos < bytes.size() && state_ != State::closed) {
        switch (state_) {
            case State::between: pos = skip_between(bytes, pos, out); break;
            case State::head: pos = take_head(bytes, pos, out); break;
            case State::body: pos = take_body(bytes, pos, out); break;
            case State::closed: break;
        }
    }
    out.mid_message = mid_message();
    return out;
}

// RFC 3261 section 7.5 (CRLFs before a start-line are ignored) and RFC 5626 section 5.4 (a
// CRLFCRLF between messages is answered with a CRLF at once).
std::size_t Framer::skip_between(std::string_view in, std::size_t pos, FramerOutput& out) {
    for (; pos < in.size(); ++pos) {
        const char c = in[pos];
        if (c == '\n' && cr_pending_) {
            cr_pending_ = false;
            if (crlf_pending_) ++out.pongs;
            crlf_pending_ = !crlf_pending_;
        } else if (c == '\r' && !cr_pending_) {
            cr_pending_ = true;
        } else if (c == '\r' || c == '\n' || cr_pending_) {
            fail(out, {}, "not SIP: a bare CR or LF between messages");
            return in.size();
        } else {
            crlf_pending_ = false;  // the stray CRLF, dropped
            state_ = State::head;
            match_ = 0;
            lines_end_ = 0;
            start_line_done_ = false;
            return pos;
        }
    }
    return pos;
}

std::size_t Framer::take_head(std::string_view in, std::size_t pos, FramerOutput& out) {
    const std::size_t limit = limits_.max_header_size;
    // The head's bytes are msg_ (earlier feeds) followed by in[pos, i). To look at them as one
    // text, they are moved into msg_, unless they all lie in `in`.
    const auto head_until = [&](std::size_t end) -> std::string_view {
        if (msg_.empty()) return in.substr(pos, end - pos);
        msg_.append(in.substr(pos, end - pos));
        pos = end;
        return msg_;
    };

    std::size_t i = pos;
    while (i < in.size()) {
        std::size_t held = msg_.size() + (i - pos);  // the head's bytes before in[i]
        if (held >= limit) {
            // in[i] would take the head past the limit, and its end has not come: give up now
            // rather than buffer more. A request whose first lines were complete is answered.
            const auto head = head_until(i);
            std::string reply;
            if (start_line_done_) {
                const auto lines = head.substr(0, lines_end_);
                parse_message_head(lines, false, identity_name(), parsed_);
                reply = error_response(513, lines, parsed_);
            }
            fail(out, std::move(reply),
                 "head exceeds max_header_size (" + std::to_string(limit) + " bytes)");
            return in.size();
        }
        if (start_line_done_ && match_ == 0) {
            // Inside header lines nothing matters until the next CR: jump to it, but not past
            // the limit.
            const std::size_t stop = std::min(in.size(), i + (limit - held));
            const void* cr = std::memchr(in.data() + i, '\r', stop - i);
            if (cr == nullptr) {
                i = stop;
                continue;
            }
            i = static_cast<std::size_t>(static_cast<const char*>(cr) - in.data());
            held = msg_.size() + (i - pos);
        }

        const char c = in[i];
        const int before = match_;
        match_ = next_match(match_, c);
        if (match_ == 2 || match_ == 4) lines_end_ = held + 1;
        if (!start_line_done_) {
            if (held == 0 && !is_token_char(c)) {
                // Neither a method nor SIP/2.0 can begin here: a TLS record, binary data.
                fail(out, {}, "not SIP: start-line begins with byte " + byte_text(c));
                return in.size();
            }
            if (c == '\n' ? before != 1 : (before == 1 || (c != '\r' && !is_line_char(c)))) {
                fail(out, {}, "not SIP: control byte " + byte_text(c) + " in the start-line");
                return in.size();
            }
            if (c == '\n') {
                const auto line = head_until(i + 1);
                const auto text = line.substr(0, line.size() - kCrlf.size());
                if (!parse_start_line(text)) {
                    fail(out, {}, "not SIP: start-line " + printable(text));
                    return in.size();
                }
                start_line_done_ = true;
            }
        }
        ++i;
        if (match_ == 4) {
            const auto head = head_until(i);
            return finish_head(head, in, i, out);
        }
    }
    msg_.append(in.substr(pos));
    return in.size();
}

// `head` (in `in` or in msg_) is complete; the body starts at in[after].
std::size_t Framer::finish_head(std::string_view head, std::string_view in, std::size_t after,
                                FramerOutput& out) {
    parse_message_head(head, true, identity_name(), parsed_);
    if (parsed_.error_status == 0) {
        if (!parsed_.content_length) {
            parsed_.fail(400,
                         "Content-Length missing (mandatory on a stream, RFC 3261 section 18.3)");
        } else if (*parsed_.content_length > limits_.max_body_size) {
            parsed_.fail(513, "Content-Length " + std::to_string(*parsed_.content_length) +
                                  " exceeds max_body_size (" +
                                  std::to_string(limits_.max_body_size) + " bytes)");
        }
    }
    if (parsed_.error_status != 0) {
        auto reply = error_response(parsed_.error_status, head, parsed_);
        fail(out, std::move(reply), what(parsed_) + parsed_.error);
        return in.size();
    }

    const auto body = static_cast<std::size_t>(*parsed_.content_length);
    HeadPlan plan;
    if (hook_) plan = hook_->plan(head, parsed_);
    edits_.clear();  // (keeps its capacity across messages)
    for (auto& e : plan.edits) edits_.push_back(std::move(e));
    // Every identity copy a peer sent goes, from responses too; ward's own line only into requests.
    std::string_view stamp;
    if (identity_name().size() > 0) {
        for (const auto& f : parsed_.fields) {
            if (f.kind == FieldKind::identity) edits_.push_back({f.begin, f.end, {}});
        }
        if (parsed_.start.kind == MessageKind::request) stamp = stamp_->line();
    }
    std::stable_sort(edits_.begin(), edits_.end(), [](const HeadEdit& a, const HeadEdit& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    discard_ = !plan.forwarded();
    divert_ = discard_ ? 0 : plan.divert;
    if (discard_) {
        out.reply += plan.answer;
        if (!plan.why.empty()) out.notes.push_back(what(parsed_) + plan.why);
        std::string().swap(msg_);
        body_left_ = body;
        state_ = State::body;
        if (body_left_ == 0) complete_buffered(out);
        return after;
    }
    std::size_t extra = stamp.size();
    for (const auto& e : edits_) extra += e.text.size();
    if (msg_.empty()) {
        // The head lies in `in`: when the body does too, the message goes out in one copy.
        if (in.size() - after >= body) {
            std::string* dest = &out.forward;
            if (divert_ != 0) dest = &out.diverted.emplace_back(Diverted{divert_, {}}).message;
            write_head(*dest, head, edits_, stamp);
            dest->append(in.substr(after, body));
            state_ = State::between;
            return after + body;
        }
        msg_.reserve(head.size() + extra + body);
        write_head(msg_, head, edits_, stamp);
    } else if (!edits_.empty() || !stamp.empty()) {
        std::string rewritten;
        rewritten.reserve(head.size() + extra + body);
        write_head(rewritten, head, edits_, stamp);
        msg_.swap(rewritten);
    } else {
        msg_.reserve(msg_.size() + body);
    }
    body_left_ = body;
    state_ = State::body;
    if (body_left_ == 0) complete_buffered(out);
    return after;
}

std::size_t Framer::take_body(std::string_view in, std::size_t pos, FramerOutput& out) {
    const std::size_t n = std::min(body_left_, in.size() - pos);
    if (!discard_) msg_.append(in.substr(pos, n));
    body_left_ -= n;
    if (body_left_ == 0) complete_buffered(out);
    return pos + n;
}

void Framer::complete_buffered(FramerOutput& out) {
    if (discard_) {
        discard_ = false;
    } else if (divert_ != 0) {
        out.diverted.push_back(Diverted{divert_, std::move(msg_)});
    } else if (out.forward.empty()) {
        out.forward.swap(msg_);
    } else {
        out.forward.append(msg_);
    }
    std::string().swap(msg_);  // an idle connection holds no buffer
    state_ = State::between;
}

std::string_view Framer::identity_name() const {
    if (direction_ != Direction::from_peer || !stamp_) return {};
    return stamp_->header_name();
}

// The head with the edits applied (identity lines removed, the hook's changes), and `stamp`
// (ward's identity line, if any) as the last header. Every edit ends by the empty line.
void Framer::write_head(std::string& dest, std::string_view head, const std::vector<HeadEdit>& edits,
                        std::string_view stamp) const {
    std::size_t from = 0;
    for (const auto& e : edits) {
        dest.append(head.substr(from, e.begin - from));
        dest.append(e.text);
        from = e.end;
    }
    const auto end = head.size() - kCrlf.size();
    dest.append(head.substr(from, end - from));
    dest.append(stamp);
    dest.append(kCrlf);
}

void Framer::fail(FramerOutput& out, std::string reply, std::string why) {
    out.reply = std::move(reply);
    out.close = true;
    out.error = std::move(why);
    state_ = State::closed;
    std::string().swap(msg_);
}

}  // namespace ward::sip
