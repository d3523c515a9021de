// SPDX-License-Identifier: Apache-2.0
#pragma once
// SIP framing (sip::Framer) as a relay filter: one per direction of a sip or sip-outbound
// session.
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/result.hpp"
#include "proxy/engine/stream_filter.hpp"

namespace ward::proxy {

// What ward stamps into requests from a verified peer.
struct SipIdentity {
    std::string header;
    std::string subject;  // empty: no verified certificate (forged copies are still removed)
    std::string listener;
    std::string context;
};

// `from_peer`: the direction from the TLS peer; `identity` (from_peer only) enables stamping.
Result<std::unique_ptr<StreamFilter>> make_sip_filter(const config::SipListenerOptions& options, bool from_peer,
                                                      const std::optional<SipIdentity>& identity);

}  // namespace ward::proxy
