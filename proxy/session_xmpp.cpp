// XMPP sessions (RFC 6120 sections 4-5, RFC 7590, XEP-0368): ward answers the stream itself
// until TLS is up, then hands the restarted stream to the backend and relays. The same Session
// as every other protocol: its deadlines, its summary line, its relay.
//
// Inbound (xmpp-client, xmpp-server: STARTTLS; -tls: Direct TLS):
//   pre-TLS   header checked, <starttls/> [required] offered, <proceed/>; secure mode off: the
//             backend's header and features with <starttls/> added, plaintext relay if the
//             client does not take it
//   TLS       handshake (Direct TLS: first, with ALPN xmpp-client / xmpp-server)
//   post-TLS  the restarted header: same `to`, = SNI; s2s: the certificate names `from`
//   backend   connect, replay the header, pass its header and features (no STARTTLS, no
//             compression), relay with the StreamGuard on the peer's direction
// Outbound (xmpp-server-outbound): the local backend's header names the remote domain; ward
// connects along the route, STARTTLS as initiating entity (or Direct TLS), verifies the
// remote's certificate names the domain, replays the backend's header, relays.
#include <openssl/rand.h>
#include <sys/socket.h>

#include <cerrno>

// GCC 12 warns that Asio's coroutine frames are freed by a mismatched operator delete when a
// frame grows past a size it inlines differently; Asio pairs its own new and delete, and the
// warning is a GCC 12 false positive on coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <stdexcept>

#include "proxy/session.hpp"
#include "proxy/worker.hpp"
#include "tls/alpn.hpp"
#include "tls/peer_verifier.hpp"
#include "xmpp/features.hpp"
#include "xmpp/identity.hpp"
#include "xmpp/initiator.hpp"
#include "xmpp/stream_guard.hpp"

namespace ward::proxy {

using config::Protocol;

namespace {

// Section 4.7.3: unpredictable, unique; 128 random bits.
std::string new_stream_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

// Element caps after TLS: stanzas relayed between servers may be as large as the backend
// accepts (prosody's s2s default: 512 KiB).
xmpp::TokenizerLimits relay_limits() {
    xmpp::TokenizerLimits limits;
    limits.max_element_size = 512 * 1024;
    return limits;
}

// An adapter: the StreamGuard as the relay's filter on the peer's direction.
class GuardFilter final : public StreamFilter {
public:
    explicit GuardFilter(std::unique_ptr<xmpp::StreamGuard> guard) : guard_(std::move(guard)) {}
    Output feed(const char* data, std::size_t size) override {
        Output out;
        if (size == 0) return out;
        auto g = guard_->feed(std::string_view(data, size));
        out.forward = std::move(g.forward);
        out.reply = std::move(g.reply);
        out.close = g.close;
        out.reason = std::move(g.reason);
        return out;
    }

private:
    std::unique_ptr<xmpp::StreamGuard> guard_;
};

// Consumes the XML whitespace waiting at the head of the socket, without waiting, at most
// `budget` bytes in all. True once something else is there (the ClientHello), the peer closed
// or failed, or the budget is spent: TLS may begin (and fails on more whitespace).
bool drop_whitespace(tcp::socket& socket, std::size_t& budget) {
    std::array<char, 64> peek;
    while (budget > 0) {
        const auto n = ::recv(socket.native_handle(), peek.data(), peek.size(), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        if (n == 0) return true;
        std::size_t spaces = 0;
        while (spaces < static_cast<std::size_t>(n) &&
               (peek[spaces] == ' ' || peek[spaces] == '\t' || peek[spaces] == '\r' || peek[spaces] == '\n'))
            ++spaces;
        if (spaces == 0) return true;
        spaces = std::min(spaces, budget);
        if (::recv(socket.native_handle(), peek.data(), spaces, MSG_DONTWAIT) <= 0) return true;
        budget -= spaces;
    }
    return true;
}

// Whitespace tolerated between <starttls/> or <proceed/> and the TLS handshake.
constexpr std::size_t kWhitespaceBeforeTls = 1024;
// Everything a peer may send before its stream is negotiated (header, whitespace, the one
// element that decides): beyond it, policy-violation. Also bounds how long a flood keeps the
// worker reading without a wait.
constexpr std::size_t kMaxNegotiationBytes = 128 * 1024;

// Waits until TLS may begin on `side`: whitespace before the ClientHello (or ServerHello) is
// dropped. False when the wait failed (deadline, peer gone).
awaitable<bool> skip_whitespace_before_tls(Connection& side) {
    std::size_t budget = kWhitespaceBeforeTls;
    while (!drop_whitespace(side.socket(), budget)) {
        auto [ec] = co_await side.socket().async_wait(tcp::socket::wait_read, use_tuple);
        if (ec) co_return false;
    }
    co_return true;
}

}  // namespace

awaitable<std::pair<error_code, std::size_t>> Session::read_some(Connection& side, char* data, std::size_t size) {
    for (;;) {
        auto [ec, n] = side.try_read(data, size);
        if (!Connection::must_wait(ec)) co_return std::pair{ec, n};
        if (const auto wec = co_await side.wait_for(ec)) co_return std::pair{wec, std::size_t{0}};
    }
}

awaitable<std::optional<xmpp::NegotiationActions>> Session::negotiate(Connection& side, xmpp::Negotiation& negotiation,
                                                                      std::string* seen) {
    // (std::array: GCC 12 cannot keep a C array in a coroutine frame.)
    std::array<char, 4096> buffer;
    std::size_t total = 0;
    for (;;) {
        auto [ec, n] = co_await read_some(side, buffer.data(), buffer.size());
        if (negotiation_expired_) co_return negotiation.fail(xmpp::StreamCondition::connection_timeout, detail_);
        if (ec) {
            if (!reason_) reason_ = ec;
            detail_ = ec == asio::error::eof ? "peer closed during the stream negotiation" : ec.message();
            co_return std::nullopt;
        }
        total += n;
        if (total > kMaxNegotiationBytes) {
            co_return negotiation.fail(xmpp::StreamCondition::policy_violation,
                                       "over 128 KiB before the stream was negotiated");
        }
        if (seen) seen->append(buffer.data(), n);
        auto actions = negotiation.feed(std::string_view(buffer.data(), n));
        if (actions.close || actions.proceed || actions.relay_plaintext || actions.need_backend ||
            actions.header_done)
            co_return actions;
        if (!actions.send.empty()) {
            if (auto wec = co_await side.write_all(actions.send.data(), actions.send.size())) {
                if (!reason_) reason_ = wec;
                co_return std::nullopt;
            }
        }
    }
}

awaitable<void> Session::last_word(Connection& side, std::string bytes) {
    phase_ = Phase::closing;
    set_deadline(std::chrono::seconds(1));
    if (!bytes.empty()) co_await side.write_all(bytes.data(), bytes.size());
    co_await side.shutdown_send();
    finish();
}

awaitable<void> Session::refuse_stream(xmpp::NegotiationActions actions) {
    if (!reason_) reason_ = make_error_code(Errc::protocol_error);
    if (!negotiation_expired_) detail_ = std::move(actions.reason);  // else the deadline's words stand
    co_await last_word(client_, std::move(actions.send));
}

awaitable<bool> Session::pass_opening(Connection& from, Connection& to, bool offer_starttls) {
    xmpp::StreamTokenizer tokenizer;
    std::string seen;
    std::size_t header_size = 0;
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await read_some(from, buffer.data(), buffer.size());
        if (ec) {
            if (!reason_) reason_ = negotiation_expired_ ? make_error_code(Errc::timed_out) : ec;
            detail_ = "the other server's stream did not open";
            co_return false;
        }
        seen.append(buffer.data(), n);
        if (seen.size() > 128 * 1024) {  // the tokenizer caps header and element; this, the rest
            reason_ = make_error_code(Errc::protocol_error);
            detail_ = "the other server sent over 128 KiB without opening its stream";
            co_return false;
        }
        for (auto& event : tokenizer.feed(std::string_view(buffer.data(), n))) {
            if (auto* header = std::get_if<xmpp::StreamHeader>(&event)) {
                header_size = header->raw.size();
                continue;
            }
            std::string out;
            if (auto* element = std::get_if<xmpp::StreamElement>(&event)) {
                // The header verbatim (its id: dialback keys depend on it), the features as
                // ward offers them, then whatever followed.
                out = seen.substr(0, header_size);
                out += xmpp::rewrite_features(element->raw, offer_starttls).text;
                out += seen.substr(static_cast<std::size_t>(element->end_offset));
            } else if (std::holds_alternative<xmpp::StreamClosed>(event)) {
                out = std::move(seen);  // an empty stream, closed: passed on as it is
            } else {
                reason_ = make_error_code(Errc::protocol_error);
                detail_ = "the other server's stream is not XMPP";
                co_return false;
            }
            if (auto wec = co_await to.write_all(out.data(), out.size())) {
                reason_ = wec;
                co_return false;
            }
            bytes_to_client_ += &to == &client_ ? out.size() : 0;
            co_return true;
        }
    }
}

awaitable<void> Session::run_xmpp() {
    auto self = shared_from_this();
    const auto protocol = listener_.protocol;
    const bool s2s = protocol == Protocol::xmpp_server || protocol == Protocol::xmpp_server_tls;
    const bool direct_tls = protocol == Protocol::xmpp_client_tls || protocol == Protocol::xmpp_server_tls;
    const auto& modes = snapshot_->config.security.xmpp;
    const bool secure = s2s ? modes.router_to_router_secure : modes.client_to_node_secure;

    xmpp::NegotiationConfig base;
    base.domains = listener_.xmpp->domains;
    base.secure = secure;
    base.kind = s2s ? xmpp::StreamKind::s2s : xmpp::StreamKind::c2s;
    base.make_stream_id = new_stream_id;

    std::string pre_tls_domain;
    if (!direct_tls) {
        phase_ = Phase::negotiate;
        negotiation_deadline();
        xmpp::Negotiation negotiation(base);
        std::string seen;
        auto actions = co_await negotiate(client_, negotiation, secure ? nullptr : &seen);
        if (actions && actions->need_backend) {
            // Secure mode off: the backend answers the header; the client sees its features
            // with ward's optional <starttls/>.
            if (!co_await connect_backend()) {
                co_await last_word(client_, negotiation.fail(xmpp::StreamCondition::remote_connection_failed, detail_).send);
                co_return;
            }
            phase_ = Phase::negotiate;
            negotiation_deadline();
            const auto& header = negotiation.client_header()->raw;
            // (No co_await inside ||: GCC 12 miscompiles co_await in short-circuit operands.)
            bool opened = !(co_await backend_->write_all(header.data(), header.size()));
            if (opened) opened = co_await pass_opening(*backend_, client_, /*offer_starttls=*/true);
            if (!opened) {
                finish();
                co_return;
            }
            actions = negotiation.resume();
            if (!actions->close && !actions->proceed && !actions->relay_plaintext) {
                if (!actions->send.empty() &&
                    co_await client_.write_all(actions->send.data(), actions->send.size())) {
                    finish();
                    co_return;
                }
                actions = co_await negotiate(client_, negotiation, &seen);
            }
        }
        if (!actions) {
            finish();
            co_return;
        }
        if (actions->close) {
            co_await refuse_stream(std::move(*actions));
            co_return;
        }
        if (actions->relay_plaintext) {
            // Secure mode off and the client went on without TLS: what it sent after its
            // header goes to the backend, then both ways.
            const auto rest = seen.substr(negotiation.client_header()->raw.size());
            bool written = true;
            if (!actions->send.empty()) written = !(co_await client_.write_all(actions->send.data(), actions->send.size()));
            if (written) written = !(co_await backend_->write_all(rest.data(), rest.size()));
            if (!written || negotiation_expired_) {
                finish();
                co_return;
            }
            bytes_from_client_ += rest.size();
            co_await relay();
            finish();
            co_return;
        }
        // proceed: <proceed/>, and TLS on the bytes that follow.
        if (auto wec = co_await client_.write_all(actions->send.data(), actions->send.size())) {
            reason_ = wec;
            finish();
            co_return;
        }
        if (backend_) {
            backend_->close();  // secure mode off: the pre-TLS backend stream is dropped
            backend_.reset();
        }
        pre_tls_domain = negotiation.domain();
    }

    phase_ = Phase::handshake;
    negotiation_deadline();
    // go-xmpp writes a newline after <starttls/>: whitespace before the ClientHello, in
    // whatever segment it comes (up to 1 KiB), is dropped before OpenSSL reads the socket.
    if (negotiation_expired_ || (!direct_tls && !co_await skip_whitespace_before_tls(client_))) {
        if (!reason_) reason_ = make_error_code(Errc::timed_out);
        finish();
        co_return;
    }
    client_.attach_tls(context_.new_server());
    if (direct_tls) tls::expect_alpn(client_.ssl(), s2s ? "xmpp-server" : "xmpp-client");
    if (s2s && secure) {
        // Mutual TLS, whatever the context says about optional client certificates.
        SSL_set_verify(client_.ssl(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE,
                       nullptr);
    }
    if (!co_await tls_handshake(client_)) {
        finish();
        co_return;
    }
    subject_ = tls::verified_peer_subject(client_.ssl());
    X509* peer_cert = SSL_get0_peer_certificate(client_.ssl());

    // The stream restarts over TLS.
    phase_ = Phase::negotiate;
    negotiation_deadline();
    xmpp::NegotiationConfig after = base;
    after.after_tls = true;
    after.expected_to = pre_tls_domain;
    if (const char* sni = SSL_get_servername(client_.ssl(), TLSEXT_NAMETYPE_host_name)) after.server_name = sni;
    if (s2s && secure) {
        after.check_from = [peer_cert](std::string_view from) -> std::string {
            if (from.empty()) return "no 'from' on the stream header: the certificate cannot be matched";
            return xmpp::check_server_identity(peer_cert, from);
        };
    }
    xmpp::Negotiation restart(after);
    std::string seen;
    auto actions = co_await negotiate(client_, restart, &seen);
    if (!actions) {
        finish();
        co_return;
    }
    if (!actions->header_done) {
        co_await refuse_stream(std::move(*actions));
        co_return;
    }

    if (!co_await connect_backend()) {
        co_await last_word(client_, restart.fail(xmpp::StreamCondition::remote_connection_failed, detail_).send);
        co_return;
    }
    phase_ = Phase::negotiate;
    negotiation_deadline();
    const auto& header = restart.client_header()->raw;
    std::function<bool(std::string_view)> covers;
    if (s2s && secure) covers = [peer_cert](std::string_view domain) { return xmpp::check_server_identity(peer_cert, domain).empty(); };
    auto guard = std::make_unique<xmpp::StreamGuard>(header, std::move(covers), relay_limits());
    // What the peer sent after its header goes through the guard like the rest.
    auto first = guard->feed(std::string_view(seen).substr(header.size()));
    std::string to_backend = header + first.forward;
    if (auto wec = co_await backend_->write_all(to_backend.data(), to_backend.size())) {
        reason_ = wec;
        finish();
        co_return;
    }
    bytes_from_client_ += to_backend.size();
    if (!co_await pass_opening(*backend_, client_, /*offer_starttls=*/false)) {
        if (reason_ == make_error_code(Errc::timed_out)) {
            co_await last_word(client_, restart.fail(xmpp::StreamCondition::remote_connection_failed,
                                                     "the backend did not answer the stream").send);
            co_return;
        }
        finish();
        co_return;
    }
    if (first.close) {
        detail_ = "client: " + first.reason;
        reason_ = make_error_code(Errc::protocol_error);
        co_await last_word(client_, std::move(first.reply));
        co_return;
    }
    if (!first.reply.empty()) co_await client_.write_all(first.reply.data(), first.reply.size());
    filter_from_client_ = std::make_unique<GuardFilter>(std::move(guard));
    co_await relay();
    finish();
}

awaitable<void> Session::run_xmpp_outbound() {
    auto self = shared_from_this();
    const auto& routes = listener_.xmpp->routes;

    // The local backend's stream header says where it goes.
    phase_ = Phase::negotiate;
    negotiation_deadline();
    xmpp::NegotiationConfig config;
    for (const auto& [domain, route] : routes) config.domains.push_back(domain);
    config.kind = xmpp::StreamKind::s2s;
    config.make_stream_id = new_stream_id;
    config.after_tls = true;  // header checks only; the remote answers
    if (!listener_.xmpp->domains.empty()) {
        config.check_from = [this](std::string_view from) -> std::string {
            for (const auto& d : listener_.xmpp->domains)
                if (xmpp::iequals_ascii(d, from)) return {};
            return "the backend's 'from' is not one of this listener's domains";
        };
    }
    xmpp::Negotiation local(config);
    std::string seen;
    auto actions = co_await negotiate(client_, local, &seen);
    if (!actions) {
        finish();
        co_return;
    }
    if (!actions->header_done) {
        co_await refuse_stream(std::move(*actions));
        co_return;
    }
    const std::string remote = local.domain();
    const std::string from(local.client_header()->attribute("from").value_or(""));
    const auto& route = routes.at(remote);

    auto refuse = [&](std::string why) -> awaitable<void> {
        if (!reason_) reason_ = make_error_code(Errc::backend_unreachable);
        detail_ = remote + ": " + why;
        if (backend_) backend_->close();
        co_await last_word(client_, local.fail(xmpp::StreamCondition::remote_connection_failed, detail_).send);
    };

    // (No braced list here: GCC 12 cannot keep an initializer_list's array in a coroutine.)
    std::vector<config::Endpoint> addresses;
    addresses.push_back(route.address);
    if (!co_await connect_to(addresses)) {
        co_await refuse("no connection to " + route.address.to_string());
        co_return;
    }
    phase_ = Phase::negotiate;
    negotiation_deadline();
    if (!route.direct_tls) {
        xmpp::Initiator initiator({from, remote, {}});
        const auto opening = initiator.opening();
        if (co_await backend_->write_all(opening.data(), opening.size())) {
            co_await refuse("the remote closed the connection");
            co_return;
        }
        std::array<char, 4096> buffer;
        for (;;) {
            auto [ec, n] = co_await read_some(*backend_, buffer.data(), buffer.size());
            if (ec) {
                co_await refuse(negotiation_expired_ ? "no STARTTLS in time" : "the remote closed before TLS");
                co_return;
            }
            auto step = initiator.feed(std::string_view(buffer.data(), n));
            if (!step.send.empty()) co_await backend_->write_all(step.send.data(), step.send.size());
            if (step.close) {
                reason_ = make_error_code(Errc::protocol_error);
                co_await refuse(step.reason);
                co_return;
            }
            if (step.start_tls) break;
        }
    }
    if (!route.direct_tls) {
        // Whitespace the remote sent after <proceed/> is dropped; ward speaks first in TLS,
        // so only what is already there (no wait: the ServerHello follows our ClientHello).
        std::size_t budget = kWhitespaceBeforeTls;
        drop_whitespace(backend_->socket(), budget);
    }
    backend_->attach_tls(context_.new_client(remote));
    if (route.direct_tls) tls::offer_alpn(backend_->ssl(), "xmpp-server");
    phase_ = Phase::handshake;
    negotiation_deadline();
    if (!co_await tls_handshake(*backend_)) {
        co_await refuse("TLS: " + detail_);
        co_return;
    }
    subject_ = tls::verified_peer_subject(backend_->ssl());
    if (auto why = xmpp::check_server_identity(SSL_get0_peer_certificate(backend_->ssl()), remote); !why.empty()) {
        reason_ = make_error_code(Errc::peer_refused);
        co_await backend_->shutdown_send();
        co_await refuse(why);
        co_return;
    }

    // The backend's own stream, over TLS; the remote answers it.
    phase_ = Phase::negotiate;
    negotiation_deadline();
    if (co_await backend_->write_all(seen.data(), seen.size())) {
        co_await refuse("the remote closed after TLS");
        co_return;
    }
    bytes_from_client_ += seen.size();
    if (!co_await pass_opening(*backend_, client_, /*offer_starttls=*/false)) {
        co_await refuse("the remote's stream did not open over TLS");
        co_return;
    }
    co_await relay();
    finish();
}

}  // namespace ward::proxy
