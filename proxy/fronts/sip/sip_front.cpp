// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/sip/sip_front.hpp"

#include "proxy/engine/log.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"
#include "proxy/fronts/sip/flows.hpp"
#include "proxy/fronts/sip/sip_filter.hpp"
#include "sip/edge.hpp"
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

void count_failure(ListenerMetrics& metrics, const sip::HeadPlan& plan) {
    switch (plan.status) {
        case 430: metrics.count(SipFlowFailure::closed); break;
        case 403: metrics.count(SipFlowFailure::refused); break;
        case 483: metrics.count(SipFlowFailure::hops); break;
        case 400: metrics.count(SipFlowFailure::malformed); break;
        default: break;
    }
}

// Messages from a peer on its flow: requests get ward's Record-Route pair or Path; a response to a
// request the backend sent through the return listener goes back on that return connection.
class PeerHook final : public sip::HeadHook {
public:
    PeerHook(std::shared_ptr<Flow> flow, std::shared_ptr<ListenerMetrics> metrics)
        : flow_(std::move(flow)), metrics_(std::move(metrics)) {}
    sip::HeadPlan plan(std::string_view head, const sip::MessageHead& parsed) override {
        if (parsed.start.kind == sip::MessageKind::response) {
            sip::HeadPlan plan;
            if (auto link = flow_->response_target(sip::top_via_branch(head, parsed), parsed.start.status >= 200))
                plan.divert = link->id;
            return plan;
        }
        auto plan = sip::plan_from_peer(head, parsed, flow_->ends.at, flow_->id, sip::FlowTokens::process());
        count_failure(*metrics_, plan);
        return plan;
    }

private:
    std::shared_ptr<Flow> flow_;
    std::shared_ptr<ListenerMetrics> metrics_;
};

// Requests from the backend on the return listener: to the flow their top Route names.
class ReturnHook final : public sip::HeadHook {
public:
    ReturnHook(std::string listener, std::string inner, std::shared_ptr<ListenerMetrics> metrics)
        : listener_(std::move(listener)), inner_(std::move(inner)), metrics_(std::move(metrics)) {}
    sip::HeadPlan plan(std::string_view head, const sip::MessageHead& parsed) override {
        auto plan = sip::plan_from_backend(head, parsed, listener_, inner_, sip::FlowTokens::process(),
                                           [](std::uint64_t id) -> std::optional<sip::FlowEnds> {
                                               auto flow = FlowTable::instance().flows.find(id);
                                               if (!flow) return std::nullopt;
                                               return flow->ends;
                                           });
        count_failure(*metrics_, plan);
        return plan;
    }

private:
    std::string listener_;  // the sip listener this return listener serves
    std::string inner_;
    std::shared_ptr<ListenerMetrics> metrics_;
};

std::string endpoint_text(const std::string& host, std::uint16_t port) {
    return config::Endpoint{host, port}.to_string();
}

// The flow of an inbound connection on a listener with a return listener, registered, and the
// routing of the peer's direction; nullptr when the return listener is not open on this worker
// (a reload could not bind it): the connection is then refused, never relayed without the
// edge's checks.
std::shared_ptr<Flow> open_flow(Session& session, SipEdgeRouting& routing) {
    const auto& listener = session.listener();
    const auto& options = *listener.sip;
    auto& worker = session.worker();
    const auto inner = worker.local_endpoint(listener.name + "/return");
    const auto bound = worker.local_endpoint(listener.name);
    if (!inner || !bound) return nullptr;
    auto& table = FlowTable::instance();
    const auto id = table.next_id();
    sip::FlowEnds ends;
    ends.at.outer = options.advertised ? options.advertised->to_string() : endpoint_text(listener.bind.host, bound->port());
    ends.at.inner = endpoint_text(options.return_bind->host, inner->port());
    ends.listener = listener.name;
    const auto limit = 4 * (std::size_t{options.max_header_size} + options.max_body_size);
    auto outbox = std::make_shared<Outbox>(session.shared_from_this(), session.client(), limit);
    auto flow = std::make_shared<Flow>(id, worker.io(), std::move(ends), std::move(outbox),
                                       session.metrics_ptr());
    table.flows.add(id, flow);
    routing.hook = std::make_unique<PeerHook>(flow, session.metrics_ptr());
    routing.divert = [](sip::Diverted&& d) {
        auto link = FlowTable::instance().links.find(d.to);
        if (!link) return;  // closed since: the response is lost, as the connection it was for
        link->metrics->count(SipRouting::response_to_backend);
        post_to_link(link, std::move(d.message));
    };
    // A peer that stopped sending has left its flow (RFC 5626 section 4.4: the flow failed):
    // requests for it get 430 from then on, as after a reset.
    routing.ended = [weak = std::weak_ptr<Flow>(flow)] {
        if (auto f = weak.lock()) {
            FlowTable::instance().flows.remove(f->id);
            f->close();
        }
    };
    return flow;
}

void close_flow(const std::shared_ptr<Flow>& flow) {
    if (!flow) return;
    FlowTable::instance().flows.remove(flow->id);
    flow->close();
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
    SipEdgeRouting routing;
    std::shared_ptr<Flow> flow;
    if (inbound && options.return_bind) {
        flow = open_flow(session, routing);
        if (!flow) {
            session.summary().fail(make_error_code(Errc::protocol_error),
                                   "the return listener of " + listener.name + " is not open: edge routing is off");
            co_return;
        }
    }
    // A side that leaves a request unanswered for message_timeout: ward answers 408 for it.
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.message_timeout);
    auto client_requests = std::make_shared<sip::PendingRequests>(timeout);
    auto backend_requests = std::make_shared<sip::PendingRequests>(timeout);
    auto from_client = make_sip_filter(options, /*from_peer=*/inbound, identity, std::move(routing),
                                       SipWatch{client_requests, backend_requests});
    auto from_backend = make_sip_filter(options, /*from_peer=*/!inbound, std::nullopt, {},
                                        SipWatch{backend_requests, client_requests});
    if (!from_client || !from_backend) {
        session.summary().fail(make_error_code(Errc::protocol_error),
                               !from_client ? from_client.error() : from_backend.error());
        close_flow(flow);
        co_return;
    }
    session.set_filters(std::move(from_client.value()), std::move(from_backend.value()));
    co_await session.relay();
    close_flow(flow);
}

// The return connection's link, registered, and the filter of what the backend sends on it.
std::shared_ptr<ReturnLink> open_link(Session& session, std::unique_ptr<StreamFilter>& filter, std::string& error) {
    const auto& options = *session.listener().sip;
    auto& table = FlowTable::instance();
    const auto limit = 4 * (std::size_t{options.max_header_size} + options.max_body_size);
    auto outbox = std::make_shared<Outbox>(session.shared_from_this(), session.client(), limit);
    std::shared_ptr<ReturnLink> link(
        new ReturnLink{table.next_id(), session.worker().io(), std::move(outbox), session.metrics_ptr()});
    const auto bound = session.worker().local_endpoint(session.listener().name);
    SipEdgeRouting routing;
    auto parent = session.listener().name;
    parent.resize(parent.size() - std::string_view("/return").size());
    routing.hook = std::make_unique<ReturnHook>(
        std::move(parent), endpoint_text(options.return_bind->host, bound ? bound->port() : options.return_bind->port),
        session.metrics_ptr());
    routing.divert = [weak = std::weak_ptr<ReturnLink>(link)](sip::Diverted&& d) {
        auto self = weak.lock();
        if (!self) return;
        auto flow = FlowTable::instance().flows.find(d.to);
        if (!flow) {
            // Closed between the plan and now.
            self->metrics->count(SipFlowFailure::closed);
            self->outbox->push(sip::answer_to(430, d.message));
            return;
        }
        // Bounded: what this connection has posted to flows and they have not taken yet.
        const auto size = d.message.size();
        if (self->in_flight.load(std::memory_order_relaxed) > self->outbox->limit()) {
            self->metrics->count(SipFlowFailure::congested);
            self->outbox->push(sip::answer_to(503, d.message));
            return;
        }
        self->in_flight.fetch_add(size, std::memory_order_relaxed);
        asio::post(flow->io, [flow, self, size, message = std::move(d.message)]() mutable {
            flow->deliver(std::move(message), self);
            self->in_flight.fetch_sub(size, std::memory_order_relaxed);
        });
    };
    auto made = make_sip_filter(options, /*from_peer=*/false, std::nullopt, std::move(routing));
    if (!made) {
        error = made.error();
        return nullptr;
    }
    filter = std::move(made.value());
    table.links.add(link->id, link);
    return link;
}

// A connection from the backend to a sip listener's return listener (plaintext, loopback):
// requests for peers' flows in, the peers' responses out. Answers of ward's own (403, 430,
// 483, keep-alive pongs) go out in order with the responses.
awaitable<void> serve_return(Session& session) {
    session.settle_handshake();
    const auto& limits = session.listener().limits;
    const auto message_timeout = session.listener().sip->message_timeout;
    std::unique_ptr<StreamFilter> filter;
    std::string error;
    auto link = open_link(session, filter, error);
    if (!link) {
        session.summary().fail(make_error_code(Errc::protocol_error), error);
        co_return;
    }
    std::string buffer(limits.buffer_size, '\0');
    bool mid_message = false;
    // Reads that complete at once never return to the event loop: yield now and then, as the
    // relay does, so a backend that floods cannot keep the worker's other sessions waiting.
    constexpr std::size_t kYieldAfter = 256 * 1024;
    std::size_t since_yield = 0;
    for (;;) {
        if (since_yield >= kYieldAfter) {
            since_yield = 0;
            co_await asio::post(session.worker().io(), asio::use_awaitable);
        }
        // Backpressure: while the backend does not read ward's answers, ward reads no more,
        // for message_timeout at most: then the connection closes.
        if (link->outbox->queued() > link->outbox->limit() / 2) {
            session.exchange_deadline(Session::clock::now() + message_timeout);
            co_await link->outbox->wait_below(link->outbox->limit() / 2);
            if (session.exchange_expired() || link->outbox->closed()) {
                session.summary().fail(make_error_code(Errc::timed_out), "backend does not read ward's answers");
                break;
            }
        }
        auto wait = limits.idle_timeout;
        if (mid_message) wait = message_timeout;
        session.exchange_deadline(Session::clock::now() + wait);
        auto [ec, n] = co_await session.client().read_some(buffer.data(), buffer.size());
        if (ec || session.exchange_expired()) {
            if (session.exchange_expired()) session.summary().fail(make_error_code(Errc::timed_out), "idle");
            break;
        }
        session.summary().bytes_from_client += n;
        since_yield += n;
        auto out = filter->feed(buffer.data(), n);
        mid_message = out.mid_message;
        if (out.close) {
            session.summary().fail(make_error_code(Errc::protocol_error), "backend: " + out.reason);
            link->outbox->close();
            co_await session.last_word(session.client(), std::move(out.reply));
            break;
        }
        if (!out.reply.empty() && !link->outbox->push(std::move(out.reply))) {
            // The backend sends and does not read what ward answers: no more of it is taken.
            session.summary().fail(make_error_code(Errc::protocol_error), "backend does not read ward's answers");
            break;
        }
    }
    FlowTable::instance().links.remove(link->id);
    link->outbox->close();
}

awaitable<void> serve(Session& session) {
    if (session.listener().protocol == config::Protocol::sip_return) return serve_return(session);
    return serve_sip(session);
}

}  // namespace

std::shared_ptr<const Front> sip_front() { return make_front(&serve); }

}  // namespace ward::proxy
