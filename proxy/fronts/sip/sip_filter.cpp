// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/sip/sip_filter.hpp"

#include "sip/framer.hpp"

namespace ward::proxy {

namespace {

// The framer's hook: edge routing's plan (if any), and the transactions watched both ways.
class WatchHook final : public sip::HeadHook {
public:
    WatchHook(std::unique_ptr<sip::HeadHook> inner, SipWatch watch) : inner_(std::move(inner)), watch_(std::move(watch)) {}
    sip::HeadPlan plan(std::string_view head, const sip::MessageHead& parsed) override {
        auto plan = inner_ ? inner_->plan(head, parsed) : sip::HeadPlan{};
        if (plan.forwarded() && plan.divert == 0) {
            if (watch_.mine) watch_.mine->forwarded(head, parsed, std::chrono::steady_clock::now());
            if (watch_.theirs) watch_.theirs->returned(head, parsed);
        }
        return plan;
    }

private:
    std::unique_ptr<sip::HeadHook> inner_;
    SipWatch watch_;
};

std::unique_ptr<sip::HeadHook> watching(std::unique_ptr<sip::HeadHook> inner, const SipWatch& watch) {
    if (!watch.mine && !watch.theirs) return inner;
    return std::make_unique<WatchHook>(std::move(inner), watch);
}

class SipFilter final : public StreamFilter {
public:
    SipFilter(sip::Direction direction, sip::FramerLimits limits, std::optional<sip::IdentityStamp> stamp,
              std::chrono::milliseconds message_timeout, SipEdgeRouting routing, SipWatch watch)
        : routing_(std::move(routing)),
          watch_(watch),
          hook_(watching(std::move(routing_.hook), watch)),
          framer_(direction, limits, std::move(stamp), hook_.get()),
          message_timeout_(message_timeout) {}

    std::chrono::milliseconds message_timeout() const override { return message_timeout_; }
    std::optional<clock::time_point> due() const override { return watch_.mine ? watch_.mine->due() : std::nullopt; }
    std::string expire(clock::time_point now) override { return watch_.mine ? watch_.mine->expire(now) : std::string(); }

    Output feed(const char* data, std::size_t size) override {
        Output out;
        if (!data) {  // end of stream: only the state is asked for
            if (routing_.ended) routing_.ended();
            out.mid_message = framer_.mid_message();
            return out;
        }
        auto o = framer_.feed(std::string_view(data, size));
        out.forward = std::move(o.forward);
        for (int i = 0; i < o.pongs; ++i) out.reply += "\r\n";
        out.reply += o.reply;
        out.close = o.close;
        out.reason = std::move(o.error);
        out.mid_message = o.mid_message;
        for (auto& d : o.diverted) routing_.divert(std::move(d));
        return out;
    }

private:
    SipEdgeRouting routing_;
    SipWatch watch_;
    std::unique_ptr<sip::HeadHook> hook_;  // before framer_, which holds it
    sip::Framer framer_;
    std::chrono::milliseconds message_timeout_;
};

}  // namespace

Result<std::unique_ptr<StreamFilter>> make_sip_filter(const config::SipListenerOptions& options, bool from_peer,
                                                      const std::optional<SipIdentity>& identity, SipEdgeRouting routing,
                                                      SipWatch watch) {
    std::optional<sip::IdentityStamp> stamp;
    if (from_peer && identity) {
        auto made = identity->subject.empty()
                        ? sip::IdentityStamp::unverified(identity->header)
                        : sip::IdentityStamp::make(identity->header, identity->subject, identity->listener,
                                                   identity->context);
        if (!made) return Error{made.error()};
        stamp = std::move(made.value());
    }
    std::unique_ptr<StreamFilter> filter = std::make_unique<SipFilter>(
        from_peer ? sip::Direction::from_peer : sip::Direction::from_backend, sip::framer_limits(options),
        std::move(stamp), std::chrono::duration_cast<std::chrono::milliseconds>(options.message_timeout),
        std::move(routing), std::move(watch));
    return filter;
}

}  // namespace ward::proxy
