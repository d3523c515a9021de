// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/sip/flows.hpp"

#include "proxy/engine/connection.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"
#include "sip/message_head.hpp"

namespace ward::proxy {

namespace {

using clock = std::chrono::steady_clock;

// How long a transaction the backend started through a flow is remembered after its request
// (RFC 3261: Timer F, 64*T1, for non-INVITE; an INVITE may ring for minutes) and after a final
// response (2xx retransmissions until the ACK, 64*T1).
constexpr auto kRequestWindow = std::chrono::minutes(5);
constexpr auto kFinalWindow = std::chrono::seconds(32);

}  // namespace

Outbox::Outbox(std::shared_ptr<Session> session, Connection& connection, std::size_t limit)
    : session_(session), connection_(connection), limit_(limit) {}

bool Outbox::push(std::string message) {
    if (closed_ || queued_ > limit_) return false;
    queued_ += message.size();
    queue_.push_back(std::move(message));
    if (!draining_) {
        auto session = session_.lock();
        if (!session) {
            close();
            return false;
        }
        draining_ = true;
        asio::co_spawn(session->worker().io(), run(shared_from_this()), [](std::exception_ptr e) {
            if (e) proxy_log().error("a SIP outbox writer ended by an unexpected exception");
        });
    }
    return true;
}

void Outbox::close() {
    closed_ = true;
    queue_.clear();
    queued_ = 0;
    if (progress_) progress_->cancel();
}

awaitable<void> Outbox::wait_below(std::size_t bytes) {
    while (!closed_ && queued_ > bytes) {
        auto session = session_.lock();
        if (!session) co_return;
        if (!progress_) progress_ = std::make_unique<asio::steady_timer>(session->worker().io());
        progress_->expires_at(asio::steady_timer::time_point::max());
        co_await progress_->async_wait(use_tuple);
    }
}

awaitable<void> Outbox::run(std::shared_ptr<Outbox> self) { co_await self->drain(); }

awaitable<void> Outbox::drain() {
    // The session (and so the connection) stays alive while a write is in flight.
    auto session = session_.lock();
    while (session && !closed_ && !queue_.empty()) {
        std::string message = std::move(queue_.front());
        queue_.pop_front();
        queued_ -= message.size();
        const auto ec = co_await connection_.write_all(message.data(), message.size());
        if (ec) {
            close();
            break;
        }
        session->summary().bytes_to_client += message.size();
        if (progress_) progress_->cancel();
    }
    draining_ = false;
}

Flow::Flow(std::uint64_t flow_id, asio::io_context& owner, sip::FlowEnds flow_ends, std::shared_ptr<Outbox> outbox,
           std::shared_ptr<ListenerMetrics> metrics)
    : id(flow_id), io(owner), ends(std::move(flow_ends)), outbox_(std::move(outbox)), metrics_(std::move(metrics)) {
    metrics_->sip_flows_open.fetch_add(1, std::memory_order_relaxed);
}

Flow::~Flow() { close(); }

void Flow::close() {
    if (closed_) return;
    closed_ = true;
    outbox_->close();
    pending_.clear();
    metrics_->sip_flows_open.fetch_sub(1, std::memory_order_relaxed);
}

void Flow::forget_expired(clock::time_point now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.until <= now || it->second.link.expired()) it = pending_.erase(it);
        else ++it;
    }
}

void Flow::deliver(std::string message, const std::shared_ptr<ReturnLink>& link) {
    if (closed_ || outbox_->closed()) {
        link->metrics->count(SipFlowFailure::closed);
        post_to_link(link, sip::answer_to(430, message));
        return;
    }
    // The transaction, for the peer's responses.
    const auto end = message.find("\r\n\r\n");
    sip::MessageHead parsed;
    const std::string_view head(message.data(), end + 4);
    sip::parse_message_head(head, true, {}, parsed);
    const auto branch = sip::top_via_branch(head, parsed);
    const bool is_ack = parsed.start.method == "ACK";
    const auto now = clock::now();
    if (!branch.empty() && branch.size() <= kMaxBranch && !is_ack) {
        if (pending_.size() >= kMaxPending) forget_expired(now);
        if (pending_.size() >= kMaxPending) {
            // The oldest deadline goes first.
            auto oldest = pending_.begin();
            for (auto it = pending_.begin(); it != pending_.end(); ++it)
                if (it->second.until < oldest->second.until) oldest = it;
            pending_.erase(oldest);
        }
        pending_[std::string(branch)] = Pending{link, now + kRequestWindow};
    }
    std::string busy = is_ack ? std::string() : sip::answer_to(503, message);
    if (!outbox_->push(std::move(message))) {
        link->metrics->count(SipFlowFailure::congested);
        if (!busy.empty()) post_to_link(link, std::move(busy));
        return;
    }
    link->metrics->count(SipRouting::request_to_peer);
}

std::shared_ptr<ReturnLink> Flow::response_target(std::string_view branch, bool final_response) {
    if (branch.empty()) return nullptr;
    auto it = pending_.find(std::string(branch));
    if (it == pending_.end()) return nullptr;
    auto link = it->second.link.lock();
    if (!link) {
        // Its return connection closed: the session's own backend connection takes the response
        // (a stateful backend matches it by its Via branch, whatever the connection).
        pending_.erase(it);
        return nullptr;
    }
    if (final_response) it->second.until = std::min(it->second.until, clock::now() + kFinalWindow);
    return link;
}

FlowTable& FlowTable::instance() {
    static FlowTable table;
    return table;
}

void post_to_link(const std::shared_ptr<ReturnLink>& link, std::string message) {
    if (message.empty()) return;
    asio::post(link->io, [link, message = std::move(message)]() mutable {
        if (!link->outbox->push(std::move(message))) link->metrics->count(SipFlowFailure::response_lost);
    });
}

}  // namespace ward::proxy
