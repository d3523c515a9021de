// SPDX-License-Identifier: Apache-2.0
#pragma once
// XMPP: c2s and s2s inbound over STARTTLS or Direct TLS, and s2s outbound along routes.
#include <memory>

#include "proxy/engine/front.hpp"

namespace ward::proxy {

std::shared_ptr<const Front> xmpp_inbound_front();   // xmpp-client, xmpp-server and their -tls
std::shared_ptr<const Front> xmpp_outbound_front();  // xmpp-server-outbound

}  // namespace ward::proxy
