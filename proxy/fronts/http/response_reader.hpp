// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading an HTTP/1.1 response from a backend connection within a deadline (Boost.Beast's
// parser, fed as bytes arrive; interim 1xx answers other than 101 dropped): what the xmpp-web
// and exchange-egress fronts share.
#include <cstdint>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "proxy/engine/session.hpp"

namespace ward::proxy::http_io {

using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct ResponseLimits {
    std::uint32_t header_limit = 64 * 1024;
    std::uint64_t body_limit = 1024 * 1024;
};

enum class Read {
    ok,                 // `out` holds the response
    closed_unanswered,  // the connection closed before a byte of an answer (a stale keep-alive)
    timed_out,          // `until` passed (the session's exchange deadline)
    invalid,            // not valid HTTP, too large, or closed inside the answer: `error` says
};

struct ResponseRead {
    Read result = Read::invalid;
    std::string error;
    // The response's end was the connection's close: the connection cannot carry another.
    bool closed = false;
};

// Reads one response from `from` into `out`. `pending` holds bytes already read from `from` and
// keeps what arrives past the response (a backend must send none; after a 101, the first frames).
// `buffer` is the read buffer (not empty). `head`: the request was HEAD (no body follows).
// Waits through the session's exchange deadline, set here to `until`.
awaitable<ResponseRead> read_response(Session& s, Connection& from, std::string& pending, std::string& buffer,
                                      ResponseLimits limits, Session::clock::time_point until, bool head, Response& out);

}  // namespace ward::proxy::http_io
