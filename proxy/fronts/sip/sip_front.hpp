// SPDX-License-Identifier: Apache-2.0
#pragma once
// SIP over TLS (`sip`: TLS terminated, the verified peer stamped into every request) and from a
// local backend into TLS that ward originates (`sip-outbound`): RFC 3261 framing both ways.
#include <memory>

#include "proxy/engine/front.hpp"

namespace ward::proxy {

std::shared_ptr<const Front> sip_front();

}  // namespace ward::proxy
