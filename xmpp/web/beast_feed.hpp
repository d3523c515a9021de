// SPDX-License-Identifier: Apache-2.0
#pragma once
// A workaround for Boost.Beast 1.81's HTTP parser, for everyone who feeds it bytes as they
// arrive (the web listener's requests and its backend's responses, the admin API's requests).
// After the last chunk's line ("0\r\n") of a chunked body, Beast takes no byte until the
// trailer section ends, and on the next put it asserts (debug builds) that it is offered at
// least 5 bytes again: hold such a short remainder back until more arrived.
#include <string_view>

namespace ward::xmpp::web {

// Whether to put `pending` to the parser now; `stalled`: the last put ended wanting more.
inline bool ready_for_beast(std::string_view pending, bool stalled) {
    if (pending.empty()) return false;
    if (!stalled || pending.size() >= 5) return true;
    // A complete last-chunk line ("0", maybe more zeros or an extension, then CRLF) and less
    // than the shortest end of the trailer section: wait.
    return !(pending.front() == '0' && pending.find("\r\n") != std::string_view::npos);
}

}  // namespace ward::xmpp::web
