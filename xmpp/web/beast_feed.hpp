// SPDX-License-Identifier: Apache-2.0
#pragma once
// A workaround for Boost.Beast 1.81's HTTP parser, for everyone who feeds it bytes as they
// arrive (the web listener's requests and its backend's responses, the admin API's requests).
// After the last chunk's line ("0\r\n") of a chunked body, Beast takes no byte until the
// trailer section ends, and on the next put it asserts (debug builds) that it is offered at
// least 5 bytes again: hold such a short remainder back until more arrived. (The line is
// judged as Beast judges it, so that bytes arriving whole or in pieces are answered alike.)
#include <string_view>

namespace ward::xmpp::web {

// Whether to put `pending` to the parser now; `stalled`: the last put ended wanting more.
inline bool ready_for_beast(std::string_view pending, bool stalled) {
    if (pending.empty()) return false;
    if (!stalled || pending.size() >= 5) return true;
    // Beast has taken the line as the last chunk's (its hex size is zero, and its first CR is
    // followed by LF) and less than the shortest end of the trailer section is here: wait.
    // Anything else (a bare CR, say) goes to the parser, which answers as it would have whole.
    if (pending.front() != '0') return true;
    const auto digits = pending.substr(0, pending.find_first_not_of("0123456789abcdefABCDEF"));
    if (digits.find_first_not_of('0') != std::string_view::npos) return true;
    const auto cr = pending.find('\r');
    return cr == std::string_view::npos || cr + 1 >= pending.size() || pending[cr + 1] != '\n';
}

}  // namespace ward::xmpp::web
