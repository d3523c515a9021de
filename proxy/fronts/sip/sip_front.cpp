#include "proxy/fronts/sip/sip_front.hpp"

#include "proxy/engine/session.hpp"
#include "proxy/fronts/sip/sip_filter.hpp"

namespace ward::proxy {

namespace {

awaitable<void> serve_sip(Session& session) {
    if (!co_await session.tls_and_backend()) co_return;
    const auto& listener = session.listener();
    const auto& options = *listener.sip;
    // Inbound, the TLS peer is the client; outbound, the backend.
    const bool inbound = !config::is_outbound(listener.protocol);
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
