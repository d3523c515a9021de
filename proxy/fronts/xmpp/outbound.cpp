// SPDX-License-Identifier: Apache-2.0
// XMPP outbound (xmpp-server-outbound): the local backend's header names the remote domain;
// ward connects along the route, STARTTLS as initiating entity (or Direct TLS), verifies the
// remote's certificate names the domain, replays the backend's header, relays.
#include <array>

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
#include "xmpp/initiator.hpp"

namespace ward::proxy {

namespace {

using namespace xmpp_front;

awaitable<void> serve_outbound(Session& s) {
    const auto& routes = s.listener().xmpp->routes;

    // The local backend's stream header says where it goes.
    s.enter(Session::Phase::negotiate);
    s.negotiation_deadline();
    xmpp::NegotiationConfig config;
    for (const auto& [domain, route] : routes) config.domains.push_back(domain);
    config.kind = xmpp::StreamKind::s2s;
    config.make_stream_id = new_stream_id;
    config.after_tls = true;  // header checks only; the remote answers
    if (!s.listener().xmpp->domains.empty()) {
        config.check_from = [&listener = s.listener()](std::string_view from) -> std::string {
            for (const auto& d : listener.xmpp->domains)
                if (xmpp::iequals_ascii(d, from)) return {};
            return "the backend's 'from' is not one of this listener's domains";
        };
    }
    xmpp::Negotiation local(config);
    std::string seen;
    if (!co_await read_header(s, local, seen)) co_return;
    const std::string remote = local.domain();
    const std::string from(local.client_header()->attribute("from").value_or(""));
    const auto& route = routes.at(remote);

    auto refuse = [&](std::string why) -> awaitable<void> {
        if (!s.summary().reason) s.summary().reason = make_error_code(Errc::backend_unreachable);
        s.summary().detail = remote + ": " + why;
        if (s.has_backend()) s.backend().close();
        co_await s.last_word(s.client(), local.fail(xmpp::StreamCondition::remote_connection_failed, s.summary().detail).send);
    };

    // (No braced list here: GCC 12 cannot keep an initializer_list's array in a coroutine.)
    std::vector<config::Endpoint> addresses;
    addresses.push_back(route.address);
    if (!co_await s.connect_to(addresses)) {
        co_await refuse("no connection to " + route.address.to_string());
        co_return;
    }
    s.enter(Session::Phase::negotiate);
    s.negotiation_deadline();
    if (!route.direct_tls) {
        xmpp::Initiator initiator({from, remote, {}});
        const auto opening = initiator.opening();
        if (co_await s.backend().write_all(opening.data(), opening.size())) {
            co_await refuse("the remote closed the connection");
            co_return;
        }
        std::array<char, 4096> buffer;
        for (;;) {
            auto [ec, n] = co_await s.backend().read_some(buffer.data(), buffer.size());
            if (ec) {
                const std::string why = s.negotiation_expired() ? "no STARTTLS in time" : "the remote closed before TLS";
                co_await refuse(why);
                co_return;
            }
            auto step = initiator.feed(std::string_view(buffer.data(), n));
            if (!step.send.empty()) co_await s.backend().write_all(step.send.data(), step.send.size());
            if (step.close) {
                s.summary().reason = make_error_code(Errc::protocol_error);
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
        drop_whitespace(s.backend().socket(), budget);
    }
    s.backend().attach_tls(s.context().new_client(remote, from));
    if (route.direct_tls) tls::offer_alpn(s.backend().ssl(), "xmpp-server");
    s.enter(Session::Phase::handshake);
    s.negotiation_deadline();
    if (!co_await s.tls_handshake(s.backend())) {
        co_await refuse("TLS: " + s.summary().detail);
        co_return;
    }
    s.summary().subject = tls::verified_peer_subject(s.backend().ssl());
    if (auto why = xmpp::check_server_identity(SSL_get0_peer_certificate(s.backend().ssl()), remote); !why.empty()) {
        s.summary().reason = make_error_code(Errc::peer_refused);
        co_await s.backend().shutdown_send();
        co_await refuse(why);
        co_return;
    }

    // The backend's own stream, over TLS; the remote answers it.
    s.enter(Session::Phase::negotiate);
    s.negotiation_deadline();
    if (co_await s.backend().write_all(seen.data(), seen.size())) {
        co_await refuse("the remote closed after TLS");
        co_return;
    }
    s.summary().bytes_from_client += seen.size();
    auto watch = std::make_unique<xmpp::StreamBoundary>();
    if (!co_await pass_opening(s, s.backend(), s.client(), /*offer_starttls=*/false, watch.get())) {
        co_await refuse("the remote's stream did not open over TLS");
        co_return;
    }
    s.set_filters(nullptr, backend_watch_filter(std::move(watch)));
    s.start_relay();
}

}  // namespace

std::shared_ptr<const Front> xmpp_outbound_front() { return make_front(&serve_outbound); }

}  // namespace ward::proxy
