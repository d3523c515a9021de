// SPDX-License-Identifier: Apache-2.0
#pragma once
// The xmpp-web front: the web-client secure mode (DESIGN.md section 1). HTTPS (and, with
// security.xmpp.web_client_secure off, plain HTTP on the same port, told apart by the first
// byte) in front of a backend's BOSH and WebSocket endpoints (prosody's mod_bosh and
// mod_websocket): every request checked and re-framed by ward, WebSocket messages relayed one
// checked message at a time.
#include <memory>

#include "proxy/engine/front.hpp"

namespace ward::proxy {

std::shared_ptr<const Front> web_front();

}  // namespace ward::proxy
