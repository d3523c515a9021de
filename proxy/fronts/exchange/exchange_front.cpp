#include "proxy/fronts/exchange/exchange_front.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <optional>

#include "proxy/engine/log.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"
#include "proxy/exchange/http_auth.hpp"
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

// What the listener's front prepared with its snapshot: the credentials, read once.
struct ExchangeState {
    config::ExchangeAuth mode = config::ExchangeAuth::automatic;
    exchange::Credentials credentials;
    std::string domain;
    std::string workstation;
    const ntlm::LegacyCrypto* crypto = nullptr;  // nullptr: NTLM is not possible (auto degrades to Basic)
};

std::shared_ptr<const void> prepare_exchange(const config::Config& config, const config::Listener& listener,
                                             const std::string& path, config::Diagnostics& diagnostics) {
    if (!listener.exchange) return nullptr;  // refused by the loader's checks
    const auto& options = *listener.exchange;
    auto state = std::make_shared<ExchangeState>();
    state->mode = options.auth;
    state->domain = options.domain;
    state->workstation = options.workstation;
    const auto where = path + ".exchange.credentials_file";
    auto read = exchange::read_credentials(options.credentials_file.resolved);
    if (auto* why = std::get_if<std::string>(&read)) {
        diagnostics.error(config.mark(where), where, *why);
        return nullptr;
    }
    state->credentials = std::move(std::get<exchange::Credentials>(read));
    if (options.auth == config::ExchangeAuth::automatic) {
        state->crypto = ntlm::LegacyCrypto::get();
        if (!state->crypto) {
            const auto at = path + ".exchange.auth";
            diagnostics.warning(config.mark(at), at,
                                "auto will use Basic only: " + ntlm::LegacyCrypto::unavailable_reason() +
                                    " (NTLMv2 needs MD4 and HMAC-MD5)");
        }
    }
    return state;
}

// RFC 5929 tls-server-end-point: the server certificate's hash with its signature's digest,
// SHA-256 when that is MD5 or SHA-1. Empty when there is no certificate.
ntlm::Bytes server_end_point(SSL* ssl) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert) return {};
    int md_nid = NID_undef;
    if (X509_get_signature_info(cert, &md_nid, nullptr, nullptr, nullptr) != 1 || md_nid == NID_md5 ||
        md_nid == NID_sha1 || md_nid == NID_undef)
        md_nid = NID_sha256;
    const EVP_MD* md = EVP_get_digestbynid(md_nid);
    ntlm::Bytes out(EVP_MAX_MD_SIZE);
    unsigned int n = 0;
    if (!md || X509_digest(cert, md, out.data(), &n) != 1) {
        ERR_clear_error();
        return {};
    }
    out.resize(n);
    return out;
}

const char* auth_name(Auth a) { return a == Auth::ntlm ? "ntlmv2" : a == Auth::basic ? "basic" : "none"; }

class Egress {
public:
    explicit Egress(Session& s)
        : s_(s),
          options_(*s.listener().exchange),
          state_(*static_cast<const ExchangeState*>(s.front_state())),
          reader_(web::RequestLimits{options_.max_header_size, options_.max_body_size}),
          buffer_(16 * 1024, '\0') {}

    awaitable<void> run() {
        for (;;) {
            const bool got = co_await next_request();
            if (!got) co_return;
            const std::string_view target = request_.target();
            if (request_.method() == http::verb::connect) {
                co_await refuse(405, "CONNECT is not forwarded", true);
                co_return;
            }
            if (target.empty() || target.front() != '/') {
                co_await refuse(400, "the request target is not a path (origin-form)", true);
                co_return;
            }
            const bool forwarded = co_await forward();
            if (!forwarded) co_return;
            s_.metrics().count(ExchangeCount::request);
            ++requests_;
            const bool keep = web::keep_alive(request_) && upstream_keep_;
            const auto bytes = web::client_response(response_, keep);
            if (!co_await write_client(bytes)) co_return;
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
    // --- the local client ----------------------------------------------------------------
    awaitable<bool> next_request() {
        bool begun = reader_.started();
        auto begun_at = clock::now();
        const auto idle_until = clock::now() + s_.listener().limits.idle_timeout;
        for (;;) {
            auto result = reader_.next();
            if (result.status == web::ReadResult::Status::request) {
                request_ = std::move(result.request);
                co_return true;
            }
            if (result.status == web::ReadResult::Status::refused) {
                s_.summary().fail(make_error_code(Errc::protocol_error), "refused a request: " + result.why);
                co_await refuse(result.refusal, result.why, true);
                co_return false;
            }
            if (reader_.take_continue() && !co_await write_client("HTTP/1.1 100 Continue\r\n\r\n")) co_return false;
            if (!begun && reader_.started()) {
                begun = true;
                begun_at = clock::now();
            }
            s_.exchange_deadline(begun ? begun_at + options_.request_timeout : idle_until);
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
            reader_.feed(std::string_view(buffer_.data(), n));
        }
    }

    awaitable<bool> write_client(std::string bytes) {
        s_.exchange_deadline(clock::now() + options_.request_timeout);
        const auto ec = co_await s_.client().write_all(bytes.data(), bytes.size());
        if (ec || s_.exchange_expired()) {
            s_.summary().fail(ec ? ec : make_error_code(Errc::timed_out), "writing to the client failed");
            co_return false;
        }
        s_.summary().bytes_to_client += bytes.size();
        co_return true;
    }

    // Ward's own answer, then (close) the end of the connection.
    awaitable<void> refuse(int status, std::string why, bool close) {
        web::Answer a;
        a.status = status;
        a.why = std::move(why);
        a.close = close;
        if (!co_await write_client(web::answer_bytes(a, !close))) co_return;
        if (close) co_await s_.client().shutdown_send();
    }

    // --- Exchange ------------------------------------------------------------------------
    // The request as Exchange gets it: hop-by-hop fields, the client's own credentials and
    // Host dropped; Host the server's; ward's Authorization when given; framing ward's own.
    std::string upstream_request(const std::string& authorization) const {
        const auto& endpoint = *s_.backend_endpoint();
        std::vector<std::string> listed;
        for (const auto& f : request_) {
            if (!boost::beast::iequals(f.name_string(), "connection")) continue;
            std::string_view v = f.value();
            while (!v.empty()) {
                const auto comma = v.find(',');
                auto item = web::trim_ows(v.substr(0, comma));
                if (!item.empty()) listed.emplace_back(item);
                v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
            }
        }
        static constexpr std::string_view dropped[] = {
            "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
            "content-length", "host", "expect", "authorization", "proxy-authorization", "proxy-authenticate"};
        std::string out;
        out.reserve(512 + request_.body().size());
        out.append(request_.method_string()).append(" ").append(request_.target()).append(" HTTP/1.1\r\n");
        auto host = endpoint.to_string();  // [v6]:port
        if (endpoint.port == 443) host.resize(host.rfind(':'));
        out.append("Host: ").append(host).append("\r\n");
        for (const auto& f : request_) {
            const auto name = f.name_string();
            bool drop = false;
            for (auto d : dropped) drop = drop || boost::beast::iequals(name, d);
            for (const auto& l : listed) drop = drop || boost::beast::iequals(name, l);
            if (!drop) out.append(name).append(": ").append(f.value()).append("\r\n");
        }
        if (!authorization.empty()) out.append("Authorization: ").append(authorization).append("\r\n");
        out.append("Connection: keep-alive\r\n");
        if (!request_.body().empty() || request_.method() == http::verb::post || request_.method() == http::verb::put)
            out.append("Content-Length: ").append(std::to_string(request_.body().size())).append("\r\n");
        out.append("\r\n");
        out.append(request_.body());
        return out;
    }

    enum class Leg { ok, stale, failed };

    // A connection to Exchange as this session's backend: from the pool, or a new one whose
    // server passed the chain and name checks. False: the client got its 502 or 504.
    awaitable<bool> connect_upstream() {
        if (s_.has_backend()) co_return true;
        answered_on_connection_ = false;
        if (auto pooled = exchange_pool::take(&state_)) {
            const auto endpoint = pooled->endpoint;
            auth_ = pooled->auth;
            basic_counted_ = auth_ == Auth::basic;
            reused_ = true;
            s_.adopt_backend(std::move(pooled->connection), endpoint);
            co_return true;
        }
        reused_ = false;
        auth_ = Auth::none;
        basic_counted_ = false;
        s_.renew_connect_budget();
        const bool connected = co_await s_.connect_backend();
        if (!connected) {
            s_.metrics().count(ExchangeCount::upstream_connect);
            co_await fail_upstream(502, "no Exchange server accepted the connection");
            co_return false;
        }
        const bool secured = co_await s_.originate_tls(true);
        if (!secured) {
            s_.metrics().count(ExchangeCount::upstream_tls);
            const auto why = s_.summary().detail;
            co_await fail_upstream(502, "the Exchange server's TLS handshake failed: " + why);
            co_return false;
        }
        s_.enter(Session::Phase::exchange);
        end_point_ = server_end_point(s_.backend().ssl());
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
        co_await refuse(status, std::move(answer), true);
    }

    // One request (with `authorization`) on the current connection and Exchange's answer into
    // response_. stale: a reused connection turned out closed before answering.
    awaitable<Leg> leg(std::string authorization) {
        const auto bytes = upstream_request(authorization);
        s_.exchange_deadline(clock::now() + options_.request_timeout);
        const auto wec = co_await s_.backend().write_all(bytes.data(), bytes.size());
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
        const http_io::ResponseLimits limits{options_.max_header_size, options_.max_response_size};
        const auto r = co_await http_io::read_response(s_, s_.backend(), pending_, buffer_, limits,
                                                       clock::now() + options_.request_timeout,
                                                       request_.method() == http::verb::head, response_);
        if (r.result == http_io::Read::ok) {
            answered_on_connection_ = true;
            upstream_keep_ = !r.closed && response_.keep_alive() && pending_.empty();
            if (!upstream_keep_) {
                s_.drop_backend();
                pending_.clear();
            }
            co_return Leg::ok;
        }
        if (r.result == http_io::Read::closed_unanswered && reused_ && !answered_on_connection_) co_return Leg::stale;
        if (r.result == http_io::Read::timed_out) {
            s_.metrics().count(ExchangeCount::upstream_timeout);
            co_await fail_upstream(504, "no answer from Exchange within " + std::to_string(options_.request_timeout.count()) + "ms");
        } else {
            s_.metrics().count(ExchangeCount::upstream_protocol);
            // (Named first: GCC 12 mis-builds a conditional's temporaries inside co_await.)
            std::string why = "Exchange's answer was not valid HTTP: ";
            why += r.error.empty() ? "it closed without answering" : r.error;
            co_await fail_upstream(502, std::move(why));
        }
        co_return Leg::failed;
    }

    // A leg on a connection (kept, from the pool, or new; once more on a new one when a kept
    // connection turns out closed before answering). With Basic when `basic_always` or the
    // connection uses it, else with none (the connection's NTLM, or to learn what Exchange offers).
    awaitable<Leg> leg_connected(bool basic_always) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool connected = co_await connect_upstream();
            if (!connected) co_return Leg::failed;
            // (Named first: GCC 12 mis-builds a conditional's temporaries inside co_await.)
            std::string authorization;
            if (basic_always || auth_ == Auth::basic) authorization = basic();
            const auto result = co_await leg(std::move(authorization));
            if (result != Leg::stale) co_return result;
            s_.drop_backend();
            pending_.clear();
        }
        co_return Leg::failed;
    }

    std::string basic() const { return exchange::basic_authorization(state_.credentials.user, state_.credentials.password); }

    std::vector<exchange::Offer> offers() const {
        std::vector<std::string_view> values;
        for (const auto& f : response_)
            if (boost::beast::iequals(f.name_string(), "www-authenticate")) values.push_back(f.value());
        return exchange::parse_challenges(values);
    }

    void log_auth(const std::string& what) {
        session_log().info("[c{} w{}] {} exchange {}: {}", s_.id(), s_.worker().id(), s_.listener().name,
                           s_.summary().backend, what);
    }

    // Sends request_ to Exchange and reads the answer to pass on into response_, authenticating
    // the connection as `exchange.auth` says. False: the client got ward's own answer.
    awaitable<bool> forward() {
        const bool basic_only = state_.mode == config::ExchangeAuth::basic_only;
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
        const auto scheme = exchange::ntlm_scheme(offers());
        std::string why_not;
        if (!scheme) {
            why_not = "Exchange offers no NTLM";
        } else if (!state_.crypto) {
            why_not = "NTLM is unavailable here: " + ntlm::LegacyCrypto::unavailable_reason();
        } else {
            const auto outcome = co_await ntlm_handshake(*scheme);
            if (outcome == Ntlm::failed) co_return false;
            if (outcome == Ntlm::authenticated) co_return true;
            why_not = ntlm_why_;
        }
        log_auth("NTLMv2 not used (" + why_not + "); falling back to Basic");
        const auto fallback = co_await leg_connected(true);
        if (fallback != Leg::ok) co_return false;
        note_basic();
        co_return true;
    }

    // The current connection used Basic for the answer in response_.
    void note_basic() {
        if (!basic_counted_) {
            s_.metrics().count(ExchangeCount::auth_basic);
            basic_counted_ = true;
            log_auth("connection uses Basic");
        }
        auth_ = Auth::basic;
        last_auth_ = Auth::basic;
        if (response_.result_int() == 401) {
            s_.metrics().count(ExchangeCount::basic_refused);
            log_auth("Exchange refused Basic (its 401 goes to the client)");
        }
    }

    enum class Ntlm { authenticated, fall_back, failed };

    // NEGOTIATE, CHALLENGE, AUTHENTICATE on one connection (MS-NTHT). authenticated: response_
    // is the answer to the request; fall_back: ntlm_why_ says why (the connection may be gone).
    awaitable<Ntlm> ntlm_handshake(std::string scheme) {
        if (!s_.has_backend()) {  // the 401 closed the connection: NTLM starts on a new one
            const bool connected = co_await connect_upstream();
            if (!connected) co_return Ntlm::failed;
        }
        const auto negotiate = ntlm::negotiate_message();
        auto negotiate_header = exchange::ntlm_authorization(scheme, negotiate);
        const auto sent = co_await leg(std::move(negotiate_header));
        if (sent == Leg::failed) co_return Ntlm::failed;
        if (sent != Leg::ok) co_return fall_back("the connection closed");
        if (response_.result_int() < 300) co_return Ntlm::authenticated;  // no authentication needed after all
        if (response_.result_int() != 401)
            co_return fall_back("Exchange answered the NEGOTIATE message with " + std::to_string(response_.result_int()));
        const auto token = exchange::ntlm_token(offers(), scheme);
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
        if (end_point_.size() >= 20) options.channel_bindings = ntlm::channel_bindings_hash(*state_.crypto, end_point_);
        const ntlm::Credentials credentials{state_.credentials.user, state_.credentials.password, state_.domain,
                                            state_.workstation};
        auto made = ntlm::authenticate_message(*state_.crypto, negotiate, std::get<ntlm::Challenge>(parsed), credentials,
                                               ntlm::Randomness::fresh(), options);
        if (auto* why = std::get_if<std::string>(&made)) {
            s_.metrics().count(ExchangeCount::ntlm_unusable);
            co_return fall_back(*why);
        }
        auto authenticate_header = exchange::ntlm_authorization(scheme, std::get<ntlm::Authenticate>(made).message);
        const auto answered = co_await leg(std::move(authenticate_header));
        if (answered == Leg::failed) co_return Ntlm::failed;
        if (answered != Leg::ok) co_return fall_back("the connection closed");
        if (response_.result_int() == 401) {
            s_.metrics().count(ExchangeCount::ntlm_refused);
            co_return fall_back("Exchange refused the NTLMv2 AUTHENTICATE message");
        }
        auth_ = Auth::ntlm;
        last_auth_ = Auth::ntlm;
        s_.metrics().count(ExchangeCount::auth_ntlmv2);
        log_auth(std::string("connection authenticated with NTLMv2 (") + scheme + ")");
        co_return Ntlm::authenticated;
    }

    Ntlm fall_back(std::string why) {
        ntlm_why_ = std::move(why);
        // The half-done NTLM state of this connection is not reused.
        s_.drop_backend();
        pending_.clear();
        return Ntlm::fall_back;
    }

    // The connection back to the pool, when it can carry another request.
    void release_upstream() {
        if (!s_.has_backend() || !upstream_keep_ || !pending_.empty()) {
            s_.drop_backend();
            return;
        }
        const auto endpoint = *s_.backend_endpoint();
        auto connection = s_.take_backend();
        if (!connection) return;
        exchange_pool::put(&state_, s_.snapshot_ptr(), {std::move(*connection), endpoint, auth_}, options_.pool_size,
                           std::chrono::duration_cast<std::chrono::milliseconds>(s_.listener().limits.idle_timeout));
    }

    Session& s_;
    const config::ExchangeOptions& options_;
    const ExchangeState& state_;
    web::RequestReader reader_;
    std::string buffer_;
    web::Request request_;
    http_io::Response response_;
    std::string pending_;
    ntlm::Bytes end_point_;
    std::string ntlm_why_;
    std::string upstream_tls_;  // version/cipher of the last connection this session made
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

std::shared_ptr<const Front> exchange_front() { return make_front(&serve_exchange, &prepare_exchange); }

}  // namespace ward::proxy
