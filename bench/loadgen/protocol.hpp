// SPDX-License-Identifier: Apache-2.0
#pragma once
// The protocol steps of `--protocol`: what a real XMPP client or SIP peer says around TLS, and
// what it checks in the answers. Each returns ok, or failed with the reason in `failure`.
#include <string>

#include "bench/loadgen/options.hpp"
#include "bench/loadgen/stream.hpp"

namespace ward::loadgen {

// Before TLS on an XMPP STARTTLS listener: header, features offering <starttls/>,
// <starttls/>, <proceed/> and nothing after it.
awaitable<Outcome> xmpp_before_tls(Stream& s, const std::string& domain, std::string& failure);
// After TLS (either kind): the restarted header, and the backend's header and features, which
// must carry neither <starttls/> nor <compression/>.
awaitable<Outcome> xmpp_after_tls(Stream& s, const std::string& domain, std::string& failure);
// After TLS on SIP: one OPTIONS request; a 200 response.
awaitable<Outcome> sip_options(Stream& s, unsigned sequence, std::string& failure);

}  // namespace ward::loadgen
