// SPDX-License-Identifier: Apache-2.0
#pragma once
// SIP framing (sip::Framer) as a relay filter: one per direction of a sip or sip-outbound
// session.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/result.hpp"
#include "proxy/engine/stream_filter.hpp"
#include "sip/framer.hpp"
#include "sip/pending_requests.hpp"

namespace ward::proxy {

// What ward stamps into requests from a verified peer.
struct SipIdentity {
    std::string header;
    std::string subject;  // empty: no verified certificate (forged copies are still removed)
    std::string listener;
    std::string context;
};

// Edge routing's part in a direction: the hook that plans each message, and what to do with the
// messages it sends elsewhere than the other side (called from feed, in order).
struct SipEdgeRouting {
    std::unique_ptr<sip::HeadHook> hook;
    std::function<void(sip::Diverted&&)> divert;
    std::function<void()> ended;  // the direction's stream ended (the peer sends no more)
};

// The requests each direction of one session forwarded and the other has not answered: a
// direction's filter lists its own (`mine`), takes the other side's responses off `theirs`, and
// answers its sender with 408 for those still waiting after message_timeout (the relay asks it
// through StreamFilter::due and expire). Both null: nothing is tracked.
struct SipWatch {
    std::shared_ptr<sip::PendingRequests> mine;
    std::shared_ptr<sip::PendingRequests> theirs;
};

// `from_peer`: the direction from the TLS peer; `identity` (from_peer only) enables stamping.
Result<std::unique_ptr<StreamFilter>> make_sip_filter(const config::SipListenerOptions& options, bool from_peer,
                                                      const std::optional<SipIdentity>& identity,
                                                      SipEdgeRouting routing = {}, SipWatch watch = {});

}  // namespace ward::proxy
