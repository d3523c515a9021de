// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP/1.1 requests from a web client (RFC 9112), read strictly: Boost.Beast's parser after a
// scan of the raw header block for what Beast tolerates and a proxy must not (request
// smuggling, RFC 9112 section 11.2): a bare CR or LF, obs-fold, more than one Content-Length,
// a Content-Length list, Content-Length with Transfer-Encoding, a coding other than chunked.
// The body is decoded (chunked or by length), so what ward forwards is re-framed by ward.
// Fed the bytes as they arrive, in any chunking; no I/O here.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace ward::xmpp::web {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

struct RequestLimits {
    std::size_t header_limit = 16 * 1024;  // request line and fields, CRLFs included
    std::uint64_t body_limit = 128 * 1024;
};

struct ReadResult {
    // request: a whole request; refused: `status` is the answer (400, 413, 417, 431, 501, 505)
    // and the connection closes after it; need_more: feed more bytes.
    enum class Status { need_more, request, refused } status = Status::need_more;
    Request request;
    int refusal = 0;
    std::string why;  // for the log; never contains request bytes
};

// A field value without its surrounding optional white space (spaces and tabs).
std::string_view trim_ows(std::string_view s);

class RequestReader {
public:
    explicit RequestReader(RequestLimits limits);
    ~RequestReader();
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    void feed(std::string_view bytes);
    // The next request from the bytes fed: bytes past it stay for the next call (pipelining).
    // After a refusal the reader is spent.
    ReadResult next();
    // The header of the request in progress asked for `Expect: 100-continue` and its body is
    // not complete: true once per request (the caller answers 100 Continue).
    bool take_continue();
    // Bytes of a next request are held (or its header was read).
    bool started() const;
    // The header of the request in progress once it was read whole (its body still coming).
    const Request* header() const;
    // The bytes past the last request (after an upgrade: there must be none).
    std::string take_rest();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::xmpp::web
