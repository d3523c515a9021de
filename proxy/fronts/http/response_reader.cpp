// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/http/response_reader.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include "xmpp/web/beast_feed.hpp"

namespace ward::proxy::http_io {

namespace http = boost::beast::http;

awaitable<ResponseRead> read_response(Session& s, Connection& from, std::string& pending, std::string& buffer,
                                      ResponseLimits limits, Session::clock::time_point until, bool head, Response& out) {
    ResponseRead r;
    bool any = !pending.empty();
    for (;;) {  // 1xx answers other than 101 are dropped (ward never forwards Expect)
        http::response_parser<http::string_body> parser;
        parser.header_limit(limits.header_limit);
        parser.body_limit(limits.body_limit);
        parser.eager(true);
        if (head) parser.skip(true);
        bool stalled = false;  // the last put wanted more (xmpp/web/beast_feed.hpp)
        for (;;) {
            if (xmpp::web::ready_for_beast(pending, stalled)) {
                boost::system::error_code ec;
                const auto used = parser.put(asio::buffer(pending), ec);
                pending.erase(0, used);
                stalled = ec == http::error::need_more;  // what is left waits for more
                if (ec && ec != http::error::need_more) {
                    r.error = ec.message();
                    co_return r;
                }
                if (parser.is_header_done() && parser.get().result_int() == 101) break;
                if (parser.is_done()) break;
                if (pending.size() > limits.header_limit + 4096) {
                    r.error = "a chunk line is too long";
                    co_return r;
                }
            }
            s.exchange_deadline(until);
            auto [ec, n] = co_await from.read_some(buffer.data(), buffer.size());
            if (s.exchange_expired()) {
                r.result = Read::timed_out;
                co_return r;
            }
            if (ec) {
                if (!any) {
                    r.result = Read::closed_unanswered;
                    co_return r;
                }
                if (!parser.got_some()) {
                    // (After an interim answer: a fresh parser with nothing in it would take the
                    // close for an empty 200.)
                    r.error = "the backend closed after an interim answer";
                    co_return r;
                }
                boost::system::error_code eof;
                parser.put_eof(eof);  // a body delimited by the close
                if (!eof && parser.is_done()) {
                    r.closed = true;
                    break;
                }
                r.error = "the backend closed inside its answer";
                co_return r;
            }
            any = true;
            pending.append(buffer.data(), n);
        }
        const auto status = parser.get().result_int();
        if (status >= 100 && status < 200 && status != 101) continue;
        out = parser.release();
        r.result = Read::ok;
        co_return r;
    }
}

}  // namespace ward::proxy::http_io
