// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/exchange/local_client.hpp"

#include "xmpp/web/web_request.hpp"

namespace ward::proxy {

namespace {

namespace web = xmpp::web;
using clock = Session::clock;

web::RequestLimits limits_of(const config::ExchangeOptions& o) { return {o.max_header_size, o.max_body_size}; }

}  // namespace

LocalClient::LocalClient(Session& s, const config::ExchangeOptions& options)
    : s_(s), options_(&options), reader_(std::make_unique<web::RequestReader>(limits_of(options))), buffer_(16 * 1024, '\0') {}

void LocalClient::follow(const config::ExchangeOptions& options) {
    options_ = &options;
    auto rest = reader_->take_rest();
    reader_ = std::make_unique<web::RequestReader>(limits_of(options));
    reader_->feed(rest);
}

awaitable<bool> LocalClient::next_request(web::Request& out) {
    bool begun = reader_->started();
    auto begun_at = clock::now();
    const auto idle_until = clock::now() + s_.listener().limits.idle_timeout;
    for (;;) {
        auto result = reader_->next();
        if (result.status == web::ReadResult::Status::request) {
            out = std::move(result.request);
            co_return true;
        }
        if (result.status == web::ReadResult::Status::refused) {
            s_.summary().fail(make_error_code(Errc::protocol_error), "refused a request: " + result.why);
            co_await refuse(result.refusal, result.why, true);
            co_return false;
        }
        if (reader_->take_continue()) {
            const bool invited = co_await write("HTTP/1.1 100 Continue\r\n\r\n");
            if (!invited) co_return false;
        }
        if (!begun && reader_->started()) {
            begun = true;
            begun_at = clock::now();
        }
        s_.exchange_deadline(begun ? begun_at + options_->request_timeout : idle_until);
        auto [ec, n] = co_await s_.client().read_some(buffer_.data(), buffer_.size());
        if (s_.exchange_expired()) {
            if (!begun) co_return false;  // idle between requests: close quietly
            s_.summary().fail(make_error_code(Errc::timed_out), "a request took too long");
            co_await refuse(408, "the request took too long", true);
            co_return false;
        }
        if (ec) {
            if (begun) s_.summary().fail(ec, "the client closed inside a request");
            co_return false;
        }
        s_.summary().bytes_from_client += n;
        reader_->feed(std::string_view(buffer_.data(), n));
    }
}

awaitable<bool> LocalClient::write(std::string bytes) {
    const bool written = co_await s_.write_to_client(std::move(bytes), clock::now() + options_->request_timeout);
    co_return written;
}

awaitable<void> LocalClient::refuse(int status, std::string why, bool close) {
    std::vector<std::pair<std::string, std::string>> none;
    co_await refuse_with(status, std::move(why), close, std::move(none));
}

awaitable<void> LocalClient::refuse_with(int status, std::string why, bool close,
                                         std::vector<std::pair<std::string, std::string>> headers) {
    web::Answer a;
    a.status = status;
    a.why = std::move(why);
    a.close = close;
    a.headers = std::move(headers);
    const bool written = co_await write(web::answer_bytes(a, !close));
    if (!written) co_return;
    if (close) co_await s_.client().shutdown_send();
}

}  // namespace ward::proxy
