// SPDX-License-Identifier: Apache-2.0
// XMPP inbound (xmpp-client, xmpp-server: STARTTLS; -tls: Direct TLS), RFC 6120 sections
// 4-5, RFC 7590, XEP-0368: ward answers the stream itself until TLS is up, then hands the
// restarted stream to the backend and relays.
//   pre-TLS   header checked, <starttls/> [required] offered, <proceed/>; secure mode off: the
//             backend's header and features with <starttls/> added, plaintext relay if the
//             client does not take it
//   TLS       handshake (Direct TLS: first, with ALPN xmpp-client / xmpp-server)
//   post-TLS  the restarted header: same `to`, = SNI; s2s: the certificate names `from`
//   backend   connect, replay the header, pass its header and features (no STARTTLS, no
//             compression), relay with the StreamGuard on the peer's direction

#include <functional>

// GCC 12 warns that Asio's coroutine frames are freed by a mismatched operator delete when a
// frame grows past a size it inlines differently; Asio pairs its own new and delete, and the
// warning is a GCC 12 false positive on coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "proxy/fronts/xmpp/stream_steps.hpp"
#include "proxy/fronts/xmpp/xmpp_front.hpp"
#include "tls/alpn.hpp"
#include "tls/peer_verifier.hpp"
#include "xmpp/identity.hpp"

namespace ward::proxy {

namespace {

using config::Protocol;
using namespace xmpp_front;

// Dials the backend for the stream `negotiation` accepted, and goes on negotiating (the
// backend's opening) within the budget; when no backend answers, the client hears
// remote-connection-failed and the session is over.
awaitable<bool> open_backend(Session& s, xmpp::Negotiation& negotiation) {
    const bool connected = co_await s.connect_backend();
    if (connected) {
        s.enter(Session::Phase::negotiate);
        s.negotiation_deadline();
    } else {
        co_await s.last_word(s.client(),
                             negotiation.fail(xmpp::StreamCondition::remote_connection_failed, s.summary().detail).send);
    }
    co_return connected;
}

awaitable<void> serve_inbound(Session& s) {
    const auto protocol = s.listener().protocol;
    const bool s2s = protocol == Protocol::xmpp_server || protocol == Protocol::xmpp_server_tls;
    const bool direct_tls = protocol == Protocol::xmpp_client_tls || protocol == Protocol::xmpp_server_tls;
    const auto& modes = s.snapshot().config.security.xmpp;
    const bool secure = s2s ? modes.router_to_router_secure : modes.client_to_node_secure;

    xmpp::NegotiationConfig base;
    base.domains = s.listener().xmpp->domains;
    base.secure = secure;
    base.kind = s2s ? xmpp::StreamKind::s2s : xmpp::StreamKind::c2s;
    base.make_stream_id = new_stream_id;

    std::string pre_tls_domain;
    if (!direct_tls) {
        s.enter(Session::Phase::negotiate);
        s.negotiation_deadline();
        xmpp::Negotiation negotiation(base);
        std::string seen;
        std::string* record = secure ? nullptr : &seen;
        std::unique_ptr<xmpp::StreamBoundary> plain_watch;  // the backend's stream, secure mode off
        auto actions = co_await negotiate(s, s.client(), negotiation, record);
        if (actions && actions->need_backend) {
            // Secure mode off: the backend answers the header; the client sees its features
            // with ward's optional <starttls/>.
            if (!co_await open_backend(s, negotiation)) co_return;
            const auto& header = negotiation.client_header()->raw;
            // (No co_await inside ||: GCC 12 miscompiles co_await in short-circuit operands.)
            bool opened = !(co_await s.backend().write_all(header.data(), header.size()));
            plain_watch = std::make_unique<xmpp::StreamBoundary>();
            if (opened) opened = co_await pass_opening(s, s.backend(), s.client(), /*offer_starttls=*/true, plain_watch.get());
            if (!opened) {
                co_return;
            }
            actions = negotiation.resume();
            if (!actions->close && !actions->proceed && !actions->relay_plaintext) {
                if (!actions->send.empty()) {
                    const auto failed = co_await s.client().write_all(actions->send.data(), actions->send.size());
                    if (failed) co_return;
                }
                actions = co_await negotiate(s, s.client(), negotiation, &seen);
            }
        }
        if (!actions) {
            co_return;
        }
        if (actions->close) {
            co_await refuse_stream(s, std::move(*actions));
            co_return;
        }
        if (actions->relay_plaintext) {
            // Secure mode off and the client went on without TLS: what it sent after its
            // header goes to the backend, then both ways.
            const auto rest = seen.substr(negotiation.client_header()->raw.size());
            bool written = true;
            if (!actions->send.empty()) written = !(co_await s.client().write_all(actions->send.data(), actions->send.size()));
            if (written) written = !(co_await s.backend().write_all(rest.data(), rest.size()));
            if (!written || s.negotiation_expired()) {
                co_return;
            }
            s.summary().bytes_from_client += rest.size();
            s.set_filters(nullptr, backend_watch_filter(std::move(plain_watch)));
            s.start_relay();
            co_return;
        }
        // proceed: <proceed/>, and TLS on the bytes that follow.
        if (auto wec = co_await s.client().write_all(actions->send.data(), actions->send.size())) {
            s.summary().reason = wec;
            co_return;
        }
        s.drop_backend();  // secure mode off: the pre-TLS backend stream is dropped
        pre_tls_domain = negotiation.domain();
    }

    s.enter(Session::Phase::handshake);
    s.negotiation_deadline();
    // go-xmpp writes a newline after <starttls/>: whitespace before the ClientHello, in
    // whatever segment it comes (up to 1 KiB), is dropped before OpenSSL reads the socket.
    // (No co_await inside || or &&: GCC 12 miscompiles co_await in short-circuit operands.)
    bool may_start = !s.negotiation_expired();
    if (may_start && !direct_tls) may_start = co_await skip_whitespace_before_tls(s.client());
    if (!may_start) {
        if (!s.summary().reason) s.summary().reason = make_error_code(Errc::timed_out);
        co_return;
    }
    s.client().attach_tls(s.context().new_server());
    if (direct_tls) tls::expect_alpn(s.client().ssl(), s2s ? "xmpp-server" : "xmpp-client");
    if (s2s && secure) {
        // Mutual TLS, whatever the context says about optional client certificates.
        SSL_set_verify(s.client().ssl(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE,
                       nullptr);
    }
    if (!co_await s.tls_handshake(s.client())) {
        co_return;
    }
    s.summary().subject = tls::verified_peer_subject(s.client().ssl());
    X509* peer_cert = SSL_get0_peer_certificate(s.client().ssl());

    // The stream restarts over TLS.
    s.enter(Session::Phase::negotiate);
    s.negotiation_deadline();
    xmpp::NegotiationConfig after = base;
    after.after_tls = true;
    after.expected_to = pre_tls_domain;
    if (const char* sni = SSL_get_servername(s.client().ssl(), TLSEXT_NAMETYPE_host_name)) after.server_name = sni;
    if (s2s && secure) {
        after.check_from = [peer_cert](std::string_view from) -> std::string {
            if (from.empty()) return "no 'from' on the stream header: the certificate cannot be matched";
            return xmpp::check_server_identity(peer_cert, from);
        };
    }
    xmpp::Negotiation restart(after);
    std::string seen;
    if (!co_await read_header(s, restart, seen)) co_return;

    if (!co_await open_backend(s, restart)) co_return;
    const auto& header = restart.client_header()->raw;
    std::function<bool(std::string_view)> covers;
    if (s2s && secure) covers = [peer_cert](std::string_view domain) { return xmpp::check_server_identity(peer_cert, domain).empty(); };
    // The header's own parse goes on in the guard when nothing followed the header (the usual
    // case: a client waits for the features); else the guard parses the header itself.
    std::unique_ptr<xmpp::StreamGuard> guard;
    if (auto primed = restart.take_tokenizer())
        guard = std::make_unique<xmpp::StreamGuard>(std::move(*primed), std::move(covers), relay_limits());
    else
        guard = std::make_unique<xmpp::StreamGuard>(header, std::move(covers), relay_limits());
    // What the peer sent after its header goes through the guard like the rest.
    auto first = guard->feed(std::string_view(seen).substr(header.size()));
    std::string to_backend = header + first.forward;
    if (auto wec = co_await s.backend().write_all(to_backend.data(), to_backend.size())) {
        s.summary().reason = wec;
        co_return;
    }
    s.summary().bytes_from_client += to_backend.size();
    auto watch = std::make_unique<xmpp::StreamBoundary>();
    if (!co_await pass_opening(s, s.backend(), s.client(), /*offer_starttls=*/false, watch.get())) {
        if (s.summary().reason == make_error_code(Errc::timed_out)) {
            co_await s.last_word(s.client(), restart.fail(xmpp::StreamCondition::remote_connection_failed,
                                                     "the backend did not answer the stream").send);
            co_return;
        }
        co_return;
    }
    if (first.close) {
        s.summary().detail = "client: " + first.reason;
        s.summary().reason = make_error_code(Errc::protocol_error);
        co_await s.last_word(s.client(), std::move(first.reply));
        co_return;
    }
    if (!first.reply.empty()) co_await s.client().write_all(first.reply.data(), first.reply.size());
    s.set_filters(guard_filter(std::move(guard)), backend_watch_filter(std::move(watch)));
    s.start_relay();
}

}  // namespace

std::shared_ptr<const Front> xmpp_inbound_front() { return make_front(&serve_inbound); }

}  // namespace ward::proxy
