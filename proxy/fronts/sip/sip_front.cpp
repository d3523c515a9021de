// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/sip/sip_front.hpp"

#include "proxy/engine/session.hpp"
#include "proxy/fronts/sip/sip_filter.hpp"
#include "sip/framer.hpp"
#include "sip/message_head.hpp"

namespace ward::proxy {

namespace {

// No backend took the connection: the peer's first request gets 503 Service Unavailable (RFC
// 3261 section 21.5.4: "temporarily unable to process the request"), built from its own Via,
// From, To, Call-ID and CSeq, then the connection closes. Within message_timeout; nothing is
// forwarded anywhere.
awaitable<void> answer_unavailable(Session& s, const config::SipListenerOptions& options) {
    s.enter(Session::Phase::exchange);
    s.exchange_deadline(Session::clock::now() + options.message_timeout);
    sip::Framer framer(sip::Direction::from_peer, sip::framer_limits(options), std::nullopt);
    std::string buffer(4096, '\0');
    std::string answer;
    while (answer.empty()) {
        auto [ec, n] = co_await s.client().read_some(buffer.data(), buffer.size());
        if (ec || s.exchange_expired()) co_return;
        s.summary().bytes_from_client += n;
        auto out = framer.feed(std::string_view(buffer.data(), n));
        if (!out.forward.empty()) {
            // The first complete message: a request gets its 503 (a response or an ACK, none).
            const std::string_view message(out.forward);
            const auto head = message.substr(0, message.find("\r\n\r\n") + 4);
            sip::MessageHead parsed;
            sip::parse_message_head(head, true, {}, parsed);
            answer = sip::error_response(503, head, parsed);
            if (answer.empty()) co_return;
        } else if (out.close) {
            answer = out.reply;  // its own 400 / 513, or nothing
            if (answer.empty()) co_return;
        }
    }
    s.summary().bytes_to_client += answer.size();
    co_await s.last_word(s.client(), std::move(answer));
}

awaitable<void> serve_sip(Session& session) {
    const auto& listener = session.listener();
    const auto& options = *listener.sip;
    // Inbound, the TLS peer is the client; outbound, the backend.
    const bool inbound = !config::is_outbound(listener.protocol);
    if (inbound) {
        if (!co_await session.accept_tls()) co_return;
        const bool connected = co_await session.connect_backend();
        if (!connected) {
            co_await answer_unavailable(session, options);
            co_return;
        }
    } else if (!co_await session.tls_and_backend()) {
        co_return;
    }
    std::optional<SipIdentity> identity;
    if (inbound)
        identity = SipIdentity{options.identity_header, session.summary().subject, listener.name,
                               session.context().name()};
    auto from_client = make_sip_filter(options, /*from_peer=*/inbound, identity);
    auto from_backend = make_sip_filter(options, /*from_peer=*/!inbound, std::nullopt);
    if (!from_client || !from_backend) {
        session.summary().fail(make_error_code(Errc::protocol_error),
                               !from_client ? from_client.error() : from_backend.error());
        co_return;
    }
    session.set_filters(std::move(from_client.value()), std::move(from_backend.value()));
    co_await session.relay();
}

}  // namespace

std::shared_ptr<const Front> sip_front() { return make_front(&serve_sip); }

}  // namespace ward::proxy
