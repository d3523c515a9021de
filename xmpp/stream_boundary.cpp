// SPDX-License-Identifier: Apache-2.0
#include "xmpp/stream_boundary.hpp"

#include "xmpp/stream_tokenizer.hpp"

namespace ward::xmpp {

namespace {

constexpr std::size_t kMaxName = 64;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void StreamBoundary::feed(std::string_view bytes) {
    for (const char c : bytes) {
        if (lost_ || closed_) return;
        step(c);
    }
}

void StreamBoundary::start_tag_done(bool empty) {
    if (depth_ == 0) {
        if (opened_ || empty) return lose();  // a second root, or a stream that is no element
        opened_ = true;
        root_ = name_;
        depth_ = 1;
        content_since_ = false;
        return;
    }
    if (depth_ == 1 && !empty && name_ == root_ && !content_before_) {
        // The stream restarts: a new header in the old one's place (section 4.3.3).
        content_since_ = false;
        return;
    }
    if (!empty) ++depth_;
    if (depth_ == 1) content_since_ = false;  // an empty child at the stream level
}

void StreamBoundary::end_tag_done() {
    if (depth_ == 0) return lose();
    --depth_;
    if (depth_ == 0) {
        closed_ = true;
    } else if (depth_ == 1) {
        content_since_ = false;
    }
}

void StreamBoundary::step(char c) {
    switch (state_) {
        case State::text:
            if (c == '<') {
                state_ = State::open;
                content_before_ = content_since_;
                if (depth_ >= 1) content_since_ = true;  // until the markup proves a boundary
            } else if (!is_space(c)) {
                if (depth_ == 0) return lose();  // text outside the stream element
                content_since_ = true;
            }
            return;
        case State::open:
            name_.clear();
            if (c == '/') {
                state_ = State::end_tag;
            } else if (c == '!') {
                bang_.clear();
                state_ = State::bang;
            } else if (c == '?') {
                run_ = 0;
                state_ = State::pi;
            } else if (is_space(c) || c == '>' || c == '=' || c == '\'' || c == '"') {
                lose();
            } else {
                name_ += c;
                state_ = State::start_name;
            }
            return;
        case State::start_name:
            if (is_space(c)) {
                state_ = State::start_tag;
            } else if (c == '>') {
                state_ = State::text;
                start_tag_done(false);
            } else if (c == '/') {
                state_ = State::empty_slash;
            } else if (name_.size() >= kMaxName) {
                lose();
            } else {
                name_ += c;
            }
            return;
        case State::start_tag:
            if (c == '\'' || c == '"') {
                quote_ = c;
                state_ = State::quoted;
            } else if (c == '>') {
                state_ = State::text;
                start_tag_done(false);
            } else if (c == '/') {
                state_ = State::empty_slash;
            } else if (c == '<') {
                lose();
            }
            return;
        case State::quoted:
            if (c == quote_) state_ = State::start_tag;
            else if (c == '<') lose();
            return;
        case State::empty_slash:
            if (c != '>') return lose();
            state_ = State::text;
            start_tag_done(true);
            return;
        case State::end_tag:
            if (c == '>') {
                state_ = State::text;
                end_tag_done();
            } else if (c == '<' || c == '\'' || c == '"') {
                lose();
            }
            return;
        case State::bang:
            bang_ += c;
            if (bang_ == "--") {
                run_ = 0;
                state_ = State::comment;
            } else if (bang_ == "[CDATA[") {
                run_ = 0;
                state_ = State::cdata;
            } else if (!std::string_view("--").starts_with(bang_) && !std::string_view("[CDATA[").starts_with(bang_)) {
                lose();  // DOCTYPE and anything else XMPP forbids
            }
            return;
        case State::comment:
            if (c == '-') {
                ++run_;
            } else {
                if (c == '>' && run_ >= 2) {
                    state_ = State::text;
                    content_since_ = content_before_;
                }
                run_ = 0;
            }
            return;
        case State::cdata:
            if (c == ']') {
                ++run_;
            } else {
                if (c == '>' && run_ >= 2) state_ = State::text;
                run_ = 0;
            }
            return;
        case State::pi:
            if (c == '>' && run_ == 1) {
                // A declaration or instruction between the stream's children (a restart's
                // XML declaration) is not content.
                state_ = State::text;
                content_since_ = content_before_;
            }
            run_ = c == '?' ? 1 : 0;
            return;
    }
}

bool StreamBoundary::at_boundary() const {
    return opened_ && !closed_ && !lost_ && depth_ == 1 && state_ == State::text && !content_since_;
}

std::string StreamBoundary::error(std::string_view condition) const {
    if (!at_boundary()) return {};
    const auto colon = root_.find(':');
    if (colon == std::string::npos || root_.substr(colon + 1) != "stream") return {};
    const auto prefix = root_.substr(0, colon);
    return "<" + prefix + ":error><" + std::string(condition) + " xmlns='" + std::string(kStreamErrorNs) + "'/></" +
           prefix + ":error></" + root_ + ">";
}

}  // namespace ward::xmpp
