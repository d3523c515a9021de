// SPDX-License-Identifier: Apache-2.0
#pragma once
// The relay's filter for one direction of an upgraded WebSocket: frames read and reassembled
// (xmpp/web/websocket.hpp), each message from the client checked as RFC 7395 framing, and
// written on by ward as one frame, masked towards the backend. Pings are answered here, close
// frames passed on with their code; a broken frame or refused message closes the session with
// the right code (and, for a refused message, the stream error before it).
#include <memory>

#include "config/config.hpp"
#include "proxy/engine/metrics.hpp"
#include "proxy/engine/stream_filter.hpp"

namespace ward::proxy {

std::unique_ptr<StreamFilter> make_ws_filter(bool from_client, const config::XmppWebOptions& options,
                                             ListenerMetrics& metrics);

}  // namespace ward::proxy
