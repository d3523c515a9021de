// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP/1.1 on one of ward's TLS connections: Boost.Beast's request parser, fed the bytes ward's
// Connection reads (Beast parses; the TLS stays ward's own, with OpenSSL on the socket), and a
// response written in one piece. Limits on the header and the body; the caller's watchdog
// bounds the time.
#include <cstdint>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "proxy/engine/connection.hpp"
#include "proxy/fronts/admin/api.hpp"

namespace ward::proxy::admin {

namespace http = boost::beast::http;

struct HttpLimits {
    std::size_t header_limit = 16 * 1024;
    std::uint64_t body_limit = 1024 * 1024;
};

struct ReadOutcome {
    // ok: a whole request; closed: the peer went before one began; otherwise `refusal` is the
    // answer (400, 408, 413, 431) and the connection closes after it.
    enum class Status { ok, closed, refused } status = Status::closed;
    http::request<http::string_body> request;
    int refusal = 0;
    std::string why;
};

// Reads one request. `pending` holds bytes read past the previous request (pipelining);
// `expired` turns true when the caller's watchdog fired (it also cancels the socket's waits).
awaitable<ReadOutcome> read_request(Connection& connection, std::string& pending, const HttpLimits& limits,
                                    const bool& expired);

// The response bytes: status line, headers (with the security headers every answer carries),
// body.
std::string serialize(const Reply& reply, bool keep_alive);

}  // namespace ward::proxy::admin
