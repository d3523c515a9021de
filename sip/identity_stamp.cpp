// SPDX-License-Identifier: Apache-2.0
#include "sip/identity_stamp.hpp"

#include <algorithm>

#include "config/values.hpp"
#include "sip/grammar.hpp"

namespace ward::sip {

namespace {

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == 0x7f;
    });
}

// gen-value (RFC 3261 section 25.1): token, or quoted-string.
void append_value(std::string& out, std::string_view value) {
    if (is_token(value)) {
        out += value;
        return;
    }
    out += '"';
    for (const char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

Status check_name(std::string_view header_name) {
    if (!is_token(header_name)) {
        return Error{"identity header name '" + std::string(header_name) +
                     "' is not an RFC 3261 token"};
    }
    // The framer and the edge read or rewrite these (sip/message_head.hpp, sip/edge.hpp):
    // removing them would break framing, the error answer or routing.
    if (config::is_reserved_sip_header(header_name)) {
        return Error{"identity header name '" + std::string(header_name) + "' is a header ward reads or rewrites"};
    }
    return {};
}

}  // namespace

Result<IdentityStamp> IdentityStamp::make(std::string_view header_name, std::string_view subject,
                                          std::string_view listener, std::string_view context) {
    if (auto s = check_name(header_name); !s) return Error{s.error()};
    if (subject.empty()) return Error{"empty peer subject: use IdentityStamp::unverified"};
    if (has_control(subject)) return Error{"peer subject contains a control character"};
    if (has_control(listener)) return Error{"listener name contains a control character"};
    if (has_control(context)) return Error{"TLS context name contains a control character"};

    IdentityStamp stamp;
    stamp.name_ = header_name;
    stamp.line_.reserve(header_name.size() + subject.size() + listener.size() + context.size() +
                        32);
    stamp.line_ += header_name;
    stamp.line_ += ": ";
    append_value(stamp.line_, subject);
    stamp.line_ += ";listener=";
    append_value(stamp.line_, listener);
    stamp.line_ += ";context=";
    append_value(stamp.line_, context);
    stamp.line_ += "\r\n";
    return stamp;
}

Result<IdentityStamp> IdentityStamp::unverified(std::string_view header_name) {
    if (auto s = check_name(header_name); !s) return Error{s.error()};
    IdentityStamp stamp;
    stamp.name_ = header_name;
    return stamp;
}

}  // namespace ward::sip
