// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/web/web_front.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <optional>


#include "config/values.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"
#include "proxy/fronts/http/response_reader.hpp"
#include "proxy/fronts/web/bosh_waits.hpp"
#include "proxy/fronts/web/ws_filter.hpp"
#include "xmpp/web/web_request.hpp"

namespace ward::proxy {

namespace {

namespace web = xmpp::web;
namespace http = boost::beast::http;
using clock = Session::clock;
using namespace std::chrono_literals;

// What a long poll may take beyond its session's `wait` before ward answers 504.
constexpr auto kBoshMargin = 10s;
// A backend response's header block.
constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;
// A fatal unexpected_message alert in a TLS 1.0 record: what a plain-HTTP request gets on an
// HTTPS-only port, and nothing else.
constexpr char kAlert[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x0a};

// One client connection's requests, in order.
class Exchange {
public:
    Exchange(Session& s, bool tls)
        : s_(s),
          tls_(tls),
          options_(*s.listener().xmpp->web),
          reader_(web::RequestLimits{options_.max_header_size, options_.max_body_size}),
          buffer_(16 * 1024, '\0') {
        const auto& listener = s.listener();
        for (const auto& d : listener.xmpp->domains) policy_.hosts.push_back(config::lower(d));
        const auto& bind = listener.bind.host;
        if (!bind.empty() && bind != "*" && bind != "0.0.0.0" && bind != "::") policy_.hosts.push_back(config::lower(bind));
        policy_.bosh_path = options_.bosh_path;
        policy_.websocket_path = options_.websocket_path;
        policy_.allowed_origins = options_.allowed_origins;
        policy_.tls = tls;
        client_address_ = s.peer_address();
    }

    awaitable<void> run() {
        for (;;) {
            // (Results are kept in members: GCC 12 mis-builds frames with some temporaries.)
            const bool got = co_await next_request();
            if (!got) co_return;
            s_.settle_handshake();  // a whole request: no longer a handshake in flight
            // A reload may have turned the web-client secure mode on since this plain
            // connection began: it takes no further request.
            if (!tls_ && plain_forbidden()) {
                s_.summary().fail(make_error_code(Errc::peer_refused),
                                  "web_client_secure was turned on: the plain HTTP connection is closed");
                co_await s_.client().shutdown_send();
                co_return;
            }
            auto routed = web::route_request(request_, policy_);
            if (auto* answer = std::get_if<web::Answer>(&routed)) {
                count_refusal(answer->reason);
                const bool keep = web::keep_alive(request_) && !answer->close;
                co_await answer_client(*answer, keep);
                if (!keep) co_return;
                continue;
            }
            const auto route = std::get<web::Route>(routed);
            std::optional<std::chrono::seconds> wait;
            bool creates_session = false;
            if (route == web::Route::bosh && request_.method() == http::verb::post) {
                auto body = web::check_bosh_body(request_.body());
                if (auto* e = std::get_if<web::ElementError>(&body)) {
                    s_.metrics().count(WebRefusal::bad_request);
                    web::Answer a;
                    a.status = 400;
                    a.why = "not one BOSH <body/> element: " + e->detail;
                    const bool keep = web::keep_alive(request_);
                    co_await answer_client(a, keep);
                    if (!keep) co_return;
                    continue;
                }
                const auto& element = std::get<web::Element>(body);
                if (const auto sid = element.attribute("sid")) wait = bosh_waits().find(std::string(*sid));
                else creates_session = true;
            }
            if (route == web::Route::websocket && !reader_.take_rest().empty()) {
                s_.metrics().count(WebRefusal::upgrade);
                web::Answer a;
                a.status = 400;
                a.why = "bytes sent before the upgrade was answered";
                a.close = true;
                co_await answer_client(a, false);
                co_return;
            }
            // How long the backend may take: a long poll its session's wait, or the longest.
            auto patience = std::chrono::milliseconds(options_.request_timeout);
            if (route == web::Route::bosh) {
                auto longest = std::chrono::milliseconds(options_.bosh_max_wait);
                if (wait && *wait < longest) longest = *wait;
                patience = longest + kBoshMargin;
            }
            const auto outcome = co_await forward(route, patience);
            if (outcome == Forwarded::failed) co_return;
            if (outcome == Forwarded::upgraded) {
                co_await relay_websocket();
                co_return;
            }
            s_.metrics().count(WebEvent::request);
            ++requests_;
            if (creates_session && response_.result_int() == 200) {
                auto body = web::check_bosh_body(response_.body());
                if (auto* e = std::get_if<web::Element>(&body)) {
                    const auto sid = e->attribute("sid");
                    const auto w = seconds_attribute(*e, "wait");
                    if (sid && !sid->empty()) {
                        s_.metrics().count(WebEvent::bosh_session);
                        if (w) bosh_waits().remember(std::string(*sid), *w);
                    }
                }
            }
            const bool keep = web::keep_alive(request_) && response_.keep_alive();
            const auto bytes = web::client_response(response_, keep);
            if (!co_await write_client(bytes)) co_return;
            if (!keep) {
                co_await s_.client().shutdown_send();
                co_return;
            }
        }
    }

    void summarize() {
        if (s_.summary().detail.empty())
            s_.summary().detail = "requests=" + std::to_string(requests_) + (upgraded_ ? " websocket" : "");
    }

    // Plain HTTP is not (or no longer) allowed here: the secure mode is on now, or the context
    // requires a client certificate, which plain HTTP cannot carry.
    bool plain_forbidden() const {
        const auto* now = s_.worker().current_snapshot();
        const auto& snapshot = now ? *now : s_.snapshot();
        if (snapshot.config.security.xmpp.web_client_secure) return true;
        // The listener as the configuration in force has it (a reload may have moved it to
        // another context, or removed it).
        const auto* plan = snapshot.find_listener(s_.listener().name);
        if (!plan) return true;
        const auto* ctx = snapshot.config.find_tls_context(plan->listener->tls_context);
        return !ctx || ctx->verify_peer == config::VerifyPeer::required;
    }

private:
    enum class Forwarded { ok, upgraded, failed };

    void count_refusal(const std::string& reason) {
        static const std::pair<std::string_view, WebRefusal> table[] = {
            {"bad_request", WebRefusal::bad_request}, {"not_found", WebRefusal::not_found},
            {"method", WebRefusal::method},           {"host", WebRefusal::host},
            {"origin", WebRefusal::origin},           {"upgrade", WebRefusal::upgrade}};
        for (const auto& [name, value] : table)
            if (reason == name) return s_.metrics().count(value);
        s_.metrics().count(WebRefusal::bad_request);
    }

    // Reads the next request into request_; false when the connection is over (closed, timed
    // out, or refused and answered).
    awaitable<bool> next_request() {
        bool begun = reader_.started();
        auto begun_at = clock::now();
        // The idle wait is one deadline: empty lines do not stretch it.
        const auto idle_until = clock::now() + s_.listener().limits.idle_timeout;
        for (;;) {
            auto result = reader_.next();
            if (result.status == web::ReadResult::Status::request) {
                request_ = std::move(result.request);
                co_return true;
            }
            if (result.status == web::ReadResult::Status::refused) {
                s_.metrics().count(result.refusal == 413 || result.refusal == 431 ? WebRefusal::too_large
                                                                                  : WebRefusal::bad_request);
                web::Answer a;
                a.status = result.refusal;
                a.why = result.why;
                a.close = true;
                s_.summary().fail(make_error_code(Errc::protocol_error), "refused a request: " + result.why);
                co_await answer_client(a, false);
                co_return false;
            }
            if (reader_.take_continue()) {
                // Invite the body only for a request that would be forwarded.
                auto routed = web::route_request(*reader_.header(), policy_);
                if (auto* answer = std::get_if<web::Answer>(&routed)) {
                    count_refusal(answer->reason);
                    answer->close = true;
                    co_await answer_client(*answer, false);
                    co_return false;
                }
                if (!co_await write_client("HTTP/1.1 100 Continue\r\n\r\n")) co_return false;
            }
            if (!begun && reader_.started()) {
                begun = true;
                begun_at = clock::now();
            }
            s_.exchange_deadline(begun ? begun_at + options_.request_timeout : idle_until);
            auto [ec, n] = co_await s_.client().read_some(buffer_.data(), buffer_.size());
            if (s_.exchange_expired()) {
                if (!begun) co_return false;  // idle between requests: close quietly
                s_.metrics().count(WebRefusal::timeout);
                s_.summary().fail(make_error_code(Errc::timed_out), "a request took longer than " +
                                                                        std::to_string(options_.request_timeout.count()) + "ms");
                web::Answer a;
                a.status = 408;
                a.why = "the request took too long";
                a.close = true;
                co_await answer_client(a, false);
                co_return false;
            }
            if (ec) {
                if (begun) s_.summary().fail(ec, "the client closed inside a request");
                co_return false;
            }
            s_.summary().bytes_from_client += n;
            reader_.feed(std::string_view(buffer_.data(), n));
            if (!begun && reader_.started()) {
                begun = true;
                begun_at = clock::now();
            }
        }
    }

    awaitable<bool> write_client(std::string bytes) {
        const bool written = co_await s_.write_to_client(std::move(bytes), clock::now() + options_.request_timeout);
        co_return written;
    }

    // Ward's own answer; with !keep, the last word, then what the client still sends (a body
    // it was not invited to send) read off for a moment, so the close does not reset the
    // connection before the answer was read.
    awaitable<void> answer_client(const web::Answer& answer, bool keep) {
        const auto bytes = web::answer_bytes(answer, keep);
        if (!co_await write_client(bytes)) co_return;
        if (keep) co_return;
        co_await s_.client().shutdown_send();
        s_.exchange_deadline(clock::now() + std::chrono::seconds(1));
        std::size_t drained = 0;
        while (drained < 256 * 1024) {
            auto [ec, n] = co_await s_.client().read_some(buffer_.data(), buffer_.size());
            if (ec || s_.exchange_expired()) break;
            drained += n;
        }
    }

    awaitable<void> fail_backend(int status, std::string why) {
        s_.metrics().count(status == 504 ? WebRefusal::timeout : WebRefusal::backend);
        s_.drop_backend();
        backend_pending_.clear();
        s_.summary().fail(make_error_code(status == 504 ? Errc::timed_out : Errc::backend_unreachable), why);
        web::Answer a;
        a.status = status;
        a.why = status == 504 ? "the backend did not answer in time" : "the backend could not be reached";
        a.close = true;
        co_await answer_client(a, false);
    }

    // Sends request_ to the backend and reads its response into response_ (once more on a
    // fresh connection when a kept-alive one turned out closed before answering).
    awaitable<Forwarded> forward(web::Route route, std::chrono::milliseconds patience) {
        const auto bytes = web::backend_request(request_, route, client_address_, tls_);
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool reused = s_.has_backend();
            if (!reused) {
                s_.renew_connect_budget();
                const bool connected = co_await s_.connect_backend();
                if (!connected) {
                    co_await fail_backend(502, "no backend accepted the connection");
                    co_return Forwarded::failed;
                }
                backend_pending_.clear();
            }
            s_.exchange_deadline(clock::now() + options_.request_timeout);
            const auto wec = co_await s_.backend().write_all(bytes.data(), bytes.size());
            if (s_.exchange_expired()) {
                co_await fail_backend(504, "the backend did not take the request in time");
                co_return Forwarded::failed;
            }
            if (wec) {
                s_.drop_backend();
                if (reused) continue;
                co_await fail_backend(502, "writing to the backend failed: " + wec.message());
                co_return Forwarded::failed;
            }
            const auto read = co_await read_response(patience);
            if (read == Read::ok) break;
            if (read == Read::closed_unanswered && reused) {
                s_.drop_backend();
                continue;
            }
            if (read == Read::timed_out) {
                co_await fail_backend(504, "no answer from the backend within " + std::to_string(patience.count()) + "ms");
            } else {
                co_await fail_backend(502, "the backend's answer was not valid HTTP: " + read_error_);
            }
            co_return Forwarded::failed;
        }
        if (!response_ready_) {
            co_await fail_backend(502, "the backend closed without answering");
            co_return Forwarded::failed;
        }
        if (route == web::Route::websocket && response_.result_int() == 101) {
            if (auto bad = web::check_upgrade_response(request_, response_)) {
                co_await fail_backend(502, "the backend's WebSocket answer has " + *bad);
                co_return Forwarded::failed;
            }
            co_return Forwarded::upgraded;
        }
        if (response_.result_int() == 101) {
            co_await fail_backend(502, "the backend switched protocols unasked");
            co_return Forwarded::failed;
        }
        if (!response_.keep_alive() || !backend_pending_.empty()) s_.drop_backend();
        co_return Forwarded::ok;
    }

    enum class Read { ok, closed_unanswered, timed_out, invalid };

    awaitable<Read> read_response(std::chrono::milliseconds patience) {
        response_ready_ = false;
        const http_io::ResponseLimits limits{kResponseHeaderLimit, options_.max_response_size};
        const auto r = co_await http_io::read_response(s_, s_.backend(), backend_pending_, buffer_, limits,
                                                       clock::now() + patience, request_.method() == http::verb::head,
                                                       response_);
        if (r.closed) s_.drop_backend();
        read_error_ = r.error;
        switch (r.result) {
            case http_io::Read::ok: response_ready_ = true; co_return Read::ok;
            case http_io::Read::closed_unanswered: co_return Read::closed_unanswered;
            case http_io::Read::timed_out: co_return Read::timed_out;
            case http_io::Read::invalid: break;
        }
        co_return Read::invalid;
    }

    awaitable<void> relay_websocket() {
        const auto head = web::client_response(response_, true);
        if (!co_await write_client(head)) co_return;
        s_.metrics().count(WebEvent::upgrade);
        upgraded_ = true;
        auto from_client = make_ws_filter(true, options_, s_.metrics());
        auto from_backend = make_ws_filter(false, options_, s_.metrics());
        // Frames the backend sent right behind its 101.
        if (!backend_pending_.empty()) {
            auto out = from_backend->feed(backend_pending_.data(), backend_pending_.size());
            backend_pending_.clear();
            if (!out.forward.empty() && !co_await write_client(out.forward)) co_return;
            if (!out.reply.empty()) {
                s_.exchange_deadline(clock::now() + options_.request_timeout);
                const auto ec = co_await s_.backend().write_all(out.reply.data(), out.reply.size());
                if (ec || s_.exchange_expired()) co_return;
            }
            if (out.close) {
                s_.summary().fail(make_error_code(Errc::protocol_error), "backend: " + out.reason);
                co_return;
            }
        }
        s_.set_filters(std::move(from_client), std::move(from_backend));
        co_await s_.relay();
    }

    Session& s_;
    bool tls_;
    const config::XmppWebOptions& options_;
    web::WebPolicy policy_;
    web::RequestReader reader_;
    std::string buffer_;
    std::string client_address_;
    web::Request request_;
    web::Response response_;
    bool response_ready_ = false;
    std::string backend_pending_;
    std::string read_error_;
    std::uint64_t requests_ = 0;
    bool upgraded_ = false;
};

// Waits for the first byte without reading it: 0x16 starts a TLS handshake record.
awaitable<int> peek_first_byte(Session& s) {
    auto& socket = s.client().socket();
    for (;;) {
        auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (ec) co_return -1;
        unsigned char byte = 0;
        const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK);
        if (n == 1) co_return byte;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        co_return -1;
    }
}

awaitable<void> serve_web(Session& s) {
    s.enter(Session::Phase::negotiate);
    s.negotiation_deadline();
    const int first = co_await peek_first_byte(s);
    if (first < 0) {
        s.summary().fail(make_error_code(s.negotiation_expired() ? Errc::timed_out : Errc::protocol_error),
                         s.negotiation_expired() ? "nothing sent" : "closed before sending anything");
        co_return;
    }
    const bool tls = first == 0x16;
    const auto* context = s.snapshot().config.find_tls_context(s.listener().tls_context);
    const bool plain_allowed = !s.snapshot().config.security.xmpp.web_client_secure && context &&
                               context->verify_peer != config::VerifyPeer::required;
    if (!tls && !plain_allowed) {
        // The web-client secure mode: HTTPS only. The request is read off (so the close does
        // not reset the connection before the alert) but never looked at.
        s.metrics().count(WebRefusal::plain_http);
        s.summary().fail(make_error_code(Errc::protocol_error),
                         "plain HTTP on an HTTPS-only listener (web_client_secure): TLS alert sent");
        std::string discard(16 * 1024, '\0');
        (void)::recv(s.client().socket().native_handle(), discard.data(), discard.size(), MSG_DONTWAIT);
        co_await s.last_word(s.client(), std::string(kAlert, sizeof kAlert));
        co_return;
    }
    if (tls) {
        const bool accepted = co_await s.accept_tls("http/1.1");
        if (!accepted) co_return;
    }
    auto exchange = std::make_unique<Exchange>(s, tls);
    co_await exchange->run();
    exchange->summarize();
}

}  // namespace

std::shared_ptr<const Front> web_front() { return make_front(&serve_web); }

}  // namespace ward::proxy
