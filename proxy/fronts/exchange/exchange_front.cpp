// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/exchange/exchange_front.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <optional>

#include "proxy/engine/log.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"
#include "proxy/exchange/http_auth.hpp"
#include "proxy/fronts/exchange/egress_request.hpp"
#include "proxy/fronts/exchange/exchange_state.hpp"
#include "proxy/fronts/exchange/local_client.hpp"
#include "proxy/fronts/exchange/upstream_pool.hpp"
#include "proxy/fronts/http/response_reader.hpp"
#include "xmpp/web/web_request.hpp"

namespace ward::proxy {

namespace {

namespace web = xmpp::web;
namespace http = boost::beast::http;
namespace ntlm = exchange::ntlm;
using clock = Session::clock;
using exchange_pool::Auth;

const char* auth_name(Auth a) { return a == Auth::ntlm ? "ntlmv2" : a == Auth::basic ? "basic" : "none"; }

// How long ward answers itself after Exchange refused both NTLMv2 and Basic.
constexpr auto kRefusalHold = std::chrono::seconds(60);

class Egress {
public:
    explicit Egress(Session& s)
        : s_(s),
          snapshot_(s.snapshot_ptr()),
          plan_(s.snapshot().find_listener(s.listener().name)),
          options_(&*s.listener().exchange),
          state_(static_cast<const ExchangeState*>(s.front_state())),
          client_(s, *options_),
          buffer_(16 * 1024, '\0') {}

    awaitable<void> run() {
        for (;;) {
            const bool got = co_await client_.next_request(request_);
            if (!got) co_return;
            s_.settle_handshake();  // a whole request: no longer a handshake in flight
            if (!follow_reload()) {
                co_await client_.refuse(503, "this listener was removed or changed by a reload", true);
                co_return;
            }
            if (request_.body().size() > options_->max_body_size) {  // read before a reload lowered it
                co_await client_.refuse(413, "the request body is larger than max_body_size", true);
                co_return;
            }
            if (!egress::method_allowed(request_)) {
                // (Named first: GCC 12 cannot build a braced list inside co_await.)
                std::vector<std::pair<std::string, std::string>> allow;
                allow.emplace_back("Allow", egress::kAllowedMethods);
                const bool keep = web::keep_alive(request_);
                co_await client_.refuse_with(405, "only GET, HEAD and POST are forwarded to Exchange", !keep, std::move(allow));
                if (!keep) co_return;
                continue;
            }
            const std::string_view target = request_.target();
            if (target.empty() || target.front() != '/') {
                co_await client_.refuse(400, "the request target is not a path (origin-form)", true);
                co_return;
            }
            if (!egress::path_allowed(target)) {
                const bool keep = web::keep_alive(request_);
                co_await client_.refuse(404, "only EWS and Autodiscover are reached through this listener", !keep);
                if (!keep) co_return;
                continue;
            }
            if (exchange_pool::refusals_held(hold_key())) {
                co_await client_.refuse(502, "Exchange refused the configured credentials; ward tries again after a minute or "
                                     "a reload", true);
                co_return;
            }
            const bool forwarded = co_await forward();
            if (!forwarded) co_return;
            s_.metrics().count(ExchangeCount::request);
            ++requests_;
            const bool keep = web::keep_alive(request_) && upstream_keep_;
            const auto bytes = web::client_response(response_, keep);
            if (!co_await client_.write(bytes)) co_return;
            if (!keep) {
                co_await s_.client().shutdown_send();
                co_return;
            }
        }
    }

    void finish() {
        release_upstream();
        if (s_.summary().detail.empty())
            s_.summary().detail = "requests=" + std::to_string(requests_) + " auth=" + auth_name(last_auth_) +
                                  (upstream_tls_.empty() ? "" : " upstream_tls=" + upstream_tls_);
    }

private:
    // A reload since the last request: this request and the next ones follow the configuration
    // in force now (its trust store, credentials and mode), on new upstream connections; the
    // one kept from before is closed. False when the listener is gone or no longer this kind.
    bool follow_reload() {
        auto now = s_.worker().current_snapshot_ptr();
        if (!now || now == snapshot_) return true;
        const auto* plan = now->find_listener(s_.listener().name);
        if (!plan || plan->listener->protocol != config::Protocol::exchange_egress || !plan->state ||
            !plan->listener->exchange)
            return false;
        s_.drop_backend();
        pending_.clear();
        snapshot_ = std::move(now);
        plan_ = plan;
        options_ = &*plan->listener->exchange;
        state_ = static_cast<const ExchangeState*>(plan->state.get());
        client_.follow(*options_);  // the next requests are read with the new limits
        return true;
    }

    std::string hold_key() const { return std::to_string(snapshot_->generation) + "/" + s_.listener().name; }

    // --- Exchange ------------------------------------------------------------------------
    enum class Leg { ok, stale, failed };

    // A connection to Exchange as this session's backend: the one kept, one from the pool
    // (`pooled`), or a new one whose server passed the chain and name checks. False: the client
    // got its 502 or 504.
    awaitable<bool> connect_upstream(bool pooled = true) {
        if (s_.has_backend()) co_return true;
        answered_on_connection_ = false;
        if (pooled) {
            if (auto idle = exchange_pool::take(state_)) {
                const auto endpoint = idle->endpoint;
                auth_ = idle->auth;
                basic_counted_ = auth_ == Auth::basic;
                reused_ = true;
                s_.adopt_backend(std::move(idle->connection), endpoint);
                co_return true;
            }
        }
        reused_ = false;
        auth_ = Auth::none;
        basic_counted_ = false;
        s_.renew_connect_budget();
        const bool connected = co_await s_.connect_to(plan_->listener->backends);
        if (!connected) {
            s_.metrics().count(ExchangeCount::upstream_connect);
            co_await fail_upstream(502, "no Exchange server accepted the connection");
            co_return false;
        }
        const bool secured = co_await s_.originate_tls(true, plan_->context);
        if (!secured) {
            s_.metrics().count(ExchangeCount::upstream_tls);
            const auto why = s_.summary().detail;
            co_await fail_upstream(502, "the Exchange server's TLS handshake failed: " + why);
            co_return false;
        }
        s_.enter(Session::Phase::exchange);
        // (The connection may be in the pool when the summary line is written.)
        upstream_tls_ = std::string(SSL_get_version(s_.backend().ssl())) + "/" + SSL_get_cipher_name(s_.backend().ssl());
        co_return true;
    }

    awaitable<void> fail_upstream(int status, std::string why) {
        s_.drop_backend();
        pending_.clear();
        s_.summary().fail(make_error_code(status == 504 ? Errc::timed_out : Errc::backend_unreachable), why);
        std::string answer = "Exchange could not be reached";
        if (status == 504) answer = "Exchange did not answer in time";
        co_await client_.refuse(status, std::move(answer), true);
    }

    // One request (with `authorization`) on the current connection and Exchange's answer into
    // response_. stale: a reused connection turned out closed before answering.
    awaitable<Leg> leg(std::string authorization) {
        auto bytes = egress::upstream_request(request_, *s_.backend_endpoint(), authorization);
        OPENSSL_cleanse(authorization.data(), authorization.size());
        s_.exchange_deadline(clock::now() + options_->request_timeout);
        const auto wec = co_await s_.backend().write_all(bytes.data(), bytes.size());
        OPENSSL_cleanse(bytes.data(), bytes.size());
        if (s_.exchange_expired()) {
            s_.metrics().count(ExchangeCount::upstream_timeout);
            co_await fail_upstream(504, "Exchange did not take the request in time");
            co_return Leg::failed;
        }
        if (wec) {
            if (reused_ && !answered_on_connection_) co_return Leg::stale;
            s_.metrics().count(ExchangeCount::upstream_protocol);
            co_await fail_upstream(502, "writing to Exchange failed: " + wec.message());
            co_return Leg::failed;
        }
        const http_io::ResponseLimits limits{options_->max_header_size, options_->max_response_size};
        const auto r = co_await http_io::read_response(s_, s_.backend(), pending_, buffer_, limits,
                                                       clock::now() + options_->request_timeout,
                                                       request_.method() == http::verb::head, response_);
        if (r.result == http_io::Read::ok && response_.result_int() != 101) {
            answered_on_connection_ = true;
            // (Bytes past the answer, also those OpenSSL read ahead: the connection is not in step.)
            upstream_keep_ = !r.closed && response_.keep_alive() && pending_.empty() && !s_.backend().has_pending();
            if (!upstream_keep_) {
                s_.drop_backend();
                pending_.clear();
            }
            co_return Leg::ok;
        }
        // Closed after taking the whole request: sent again only when that cannot do it twice.
        const auto m = request_.method();
        if (r.result == http_io::Read::closed_unanswered && reused_ && !answered_on_connection_ &&
            (m == http::verb::get || m == http::verb::head))
            co_return Leg::stale;
        if (r.result == http_io::Read::timed_out) {
            s_.metrics().count(ExchangeCount::upstream_timeout);
            co_await fail_upstream(504, "no answer from Exchange within " + std::to_string(options_->request_timeout.count()) + "ms");
        } else {
            s_.metrics().count(ExchangeCount::upstream_protocol);
            // (Named first: GCC 12 mis-builds a conditional's temporaries inside co_await.)
            std::string why = "Exchange's answer was not valid HTTP: ";
            if (r.result == http_io::Read::ok) why += "101 Switching Protocols, which ward never asked for";
            else why += r.error.empty() ? "it closed without answering" : r.error;
            co_await fail_upstream(502, std::move(why));
        }
        co_return Leg::failed;
    }

    // A leg on a connection (kept, from the pool, or new; once more on a new one when a kept
    // connection turns out closed before answering). With Basic when `basic_always` or the
    // connection uses it, else with none (the connection's NTLM, or to learn what Exchange offers).
    awaitable<Leg> leg_connected(bool basic_always, bool pooled = true) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool connected = co_await connect_upstream(pooled && attempt == 0);
            if (!connected) co_return Leg::failed;
            // (Named first: GCC 12 mis-builds a conditional's temporaries inside co_await.)
            std::string authorization;
            if (basic_always || auth_ == Auth::basic) authorization = basic();
            const auto result = co_await leg(std::move(authorization));
            if (result != Leg::stale) co_return result;
            s_.drop_backend();
            pending_.clear();
        }
        s_.metrics().count(ExchangeCount::upstream_protocol);
        co_await fail_upstream(502, "Exchange closed two connections without answering");
        co_return Leg::failed;
    }

    std::string basic() const { return exchange::basic_authorization(state_->credentials.user, state_->credentials.password); }

    void log_auth(const std::string& what) {
        session_log().info("[c{} w{}] {} exchange {}: {}", s_.id(), s_.worker().id(), s_.listener().name,
                           s_.backend_text(), what);
    }

    // Sends request_ to Exchange and reads the answer to pass on into response_, authenticating
    // the connection as `exchange.auth` says. False: the client got ward's own answer.
    awaitable<bool> forward() {
        const bool basic_only = state_->mode == config::ExchangeAuth::basic_only;
        // A connection kept from the last request may have closed meanwhile.
        reused_ = s_.has_backend();
        answered_on_connection_ = false;
        const auto first = co_await leg_connected(basic_only);
        if (first != Leg::ok) co_return false;
        if (basic_only || auth_ == Auth::basic) {
            note_basic();
            co_return true;
        }
        if (response_.result_int() != 401) co_return true;
        // 401 (on a fresh connection, or one Exchange wants authenticated again): NTLMv2 when
        // offered and possible, else Basic.
        const auto offered = egress::offers(response_);
        const auto scheme = exchange::ntlm_scheme(offered);
        const bool basic_offered = exchange::offers_scheme(offered, "basic");
        std::string why_not;
        if (!scheme) {
            why_not = "Exchange offers no NTLM";
        } else if (!state_->crypto) {
            why_not = "NTLM is unavailable here: " + ntlm::LegacyCrypto::unavailable_reason();
        } else {
            const auto outcome = co_await ntlm_handshake(*scheme);
            if (outcome == Ntlm::failed) co_return false;
            if (outcome == Ntlm::answered) co_return true;
            why_not = ntlm_why_;
        }
        if (!basic_offered) {
            // Basic would be refused unread: the client gets Exchange's 401 as it is.
            log_auth("NTLMv2 not used (" + why_not + ") and Exchange offers no Basic");
            if (response_.result_int() != 401) {
                std::string why = "NTLMv2 not used (" + why_not + ") and Exchange offers no Basic";
                co_await fail_upstream(502, std::move(why));
                co_return false;
            }
            co_return true;
        }
        log_auth("NTLMv2 not used (" + why_not + "); falling back to Basic");
        // A new connection: the one that failed NTLM (if still open) is not reused.
        s_.drop_backend();
        pending_.clear();
        const auto fallback = co_await leg_connected(true, false);
        if (fallback != Leg::ok) co_return false;
        note_basic();
        co_return true;
    }

    // The current connection used Basic for the answer in response_. In auto mode a connection
    // that fell back stays this session's (never pooled): each new session tries NTLMv2 again.
    // Basic refused: the credentials are wrong (or the account locked); ward stops trying.
    void note_basic() {
        if (!basic_counted_) {
            s_.metrics().count(ExchangeCount::auth_basic);
            basic_counted_ = true;
            log_auth("connection uses Basic");
        }
        auth_ = Auth::basic;
        last_auth_ = Auth::basic;
        // IIS answers wrong credentials with 401 offering Basic again (other 401s are no logon).
        if (response_.result_int() == 401 && exchange::offers_scheme(egress::offers(response_), "basic")) {
            s_.metrics().count(ExchangeCount::basic_refused);
            log_auth("Exchange refused Basic (its 401 goes to the client); ward answers 502 itself for a minute "
                     "(or until a reload) rather than lock the account out");
            exchange_pool::hold_refusals(hold_key(), std::chrono::steady_clock::now() + kRefusalHold);
        }
    }

    enum class Ntlm { answered, fall_back, refused, failed };

    // NEGOTIATE, CHALLENGE, AUTHENTICATE on one connection (MS-NTHT). answered: response_ is
    // the answer to the request (authenticated, or an answer to pass on); fall_back/refused:
    // ntlm_why_ says why.
    awaitable<Ntlm> ntlm_handshake(std::string scheme) {
        // The 401 closed its connection: NTLM starts on a new one (a pooled one could be stale).
        if (!s_.has_backend()) {
            const bool connected = co_await connect_upstream(false);
            if (!connected) co_return Ntlm::failed;
        }
        const auto negotiate = ntlm::negotiate_message();
        auto negotiate_header = exchange::ntlm_authorization(scheme, negotiate);
        const auto sent = co_await leg(std::move(negotiate_header));
        if (sent != Leg::ok) co_return Ntlm::failed;  // a new connection: never stale
        // Anything but a CHALLENGE (a 2xx, a redirect, a 5xx) goes to the client as it is.
        if (response_.result_int() != 401) co_return Ntlm::answered;
        const auto token = exchange::ntlm_token(egress::offers(response_), scheme);
        if (!token) {
            s_.metrics().count(ExchangeCount::ntlm_unusable);
            co_return fall_back("Exchange sent no NTLM CHALLENGE");
        }
        auto parsed = ntlm::parse_challenge(*token);
        if (auto* why = std::get_if<std::string>(&parsed)) {
            s_.metrics().count(ExchangeCount::ntlm_unusable);
            co_return fall_back("the CHALLENGE cannot be answered with NTLMv2, and NTLMv1 is never used: " + *why);
        }
        if (!s_.has_backend()) co_return fall_back("Exchange closed the connection after its CHALLENGE");
        ntlm::AuthenticateOptions options;
        options.target_name = "HTTP/" + s_.backend_endpoint()->host;
        // The certificate of this connection's server (RFC 5929 tls-server-end-point).
        const auto end_point = server_end_point(s_.backend().ssl());
        if (end_point.size() >= 20) options.channel_bindings = ntlm::channel_bindings_hash(*state_->crypto, end_point);
        ntlm::Credentials credentials{state_->credentials.user, state_->credentials.password, state_->domain,
                                            state_->workstation};
        auto made = ntlm::authenticate_message(*state_->crypto, negotiate, std::get<ntlm::Challenge>(parsed), credentials,
                                               ntlm::Randomness::fresh(), options);
        OPENSSL_cleanse(credentials.password.data(), credentials.password.size());
        if (auto* why = std::get_if<std::string>(&made)) {
            s_.metrics().count(ExchangeCount::ntlm_unusable);
            co_return fall_back(*why);
        }
        auto authenticate_header = exchange::ntlm_authorization(scheme, std::get<ntlm::Authenticate>(made).message);
        const auto answered = co_await leg(std::move(authenticate_header));
        if (answered != Leg::ok) co_return Ntlm::failed;
        if (response_.result_int() == 401) {
            s_.metrics().count(ExchangeCount::ntlm_refused);
            fall_back("Exchange refused the NTLMv2 AUTHENTICATE message");
            co_return Ntlm::refused;
        }
        auth_ = Auth::ntlm;
        last_auth_ = Auth::ntlm;
        s_.metrics().count(ExchangeCount::auth_ntlmv2);
        log_auth(std::string("connection authenticated with NTLMv2 (") + scheme + ")");
        co_return Ntlm::answered;
    }

    Ntlm fall_back(std::string why) {
        ntlm_why_ = std::move(why);
        return Ntlm::fall_back;
    }

    // The connection back to the pool, when it can carry another request: authenticated with
    // NTLMv2, or Basic in basic-only mode; nothing left to read; made under the configuration
    // in force now.
    void release_upstream() {
        const bool poolable = auth_ == Auth::ntlm || state_->mode == config::ExchangeAuth::basic_only;
        const auto* now = s_.worker().current_snapshot();
        if (!s_.has_backend() || !upstream_keep_ || !pending_.empty() || !poolable || now != snapshot_.get() ||
            s_.backend().has_pending()) {
            s_.drop_backend();
            return;
        }
        const auto endpoint = *s_.backend_endpoint();
        auto connection = s_.take_backend();
        if (!connection) return;
        exchange_pool::put(state_, snapshot_, {std::move(*connection), endpoint, auth_}, options_->pool_size,
                           std::chrono::duration_cast<std::chrono::milliseconds>(s_.listener().limits.idle_timeout));
    }

    Session& s_;
    // The configuration this session follows (the one in force at its last request).
    std::shared_ptr<const Snapshot> snapshot_;
    const ListenerPlan* plan_;
    const config::ExchangeOptions* options_;
    const ExchangeState* state_;
    LocalClient client_;
    std::string buffer_;  // reads from Exchange
    web::Request request_;
    http_io::Response response_;
    std::string pending_;
    std::string ntlm_why_;
    std::string upstream_tls_;     // version/cipher of the last connection this session made
    Auth auth_ = Auth::none;       // the current connection's
    Auth last_auth_ = Auth::none;  // for the summary line
    bool reused_ = false;
    bool answered_on_connection_ = false;
    bool upstream_keep_ = false;
    bool basic_counted_ = false;  // the current connection's Basic was counted
    std::uint64_t requests_ = 0;
};

awaitable<void> serve_exchange(Session& s) {
    s.enter(Session::Phase::exchange);
    auto egress = std::make_unique<Egress>(s);
    co_await egress->run();
    egress->finish();
}

}  // namespace

std::shared_ptr<const Front> exchange_front() { return make_front(&serve_exchange, &prepare_exchange_state); }

}  // namespace ward::proxy
