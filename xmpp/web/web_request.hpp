// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the web listener does with one parsed request (proxy/fronts/web/ does the I/O): where it
// goes (the BOSH path, the WebSocket path, or nowhere: never proxied), the checks on Host,
// method, Origin and the WebSocket upgrade, the BOSH payload check, and the request and
// response as ward writes them on: hop-by-hop fields dropped, X-Forwarded-For appended to,
// X-Forwarded-Proto ward's own, Forwarded and X-Real-IP from the client removed, framing
// (Content-Length) ward's own.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "xmpp/web/http_request.hpp"
#include "xmpp/web/xml_element.hpp"

namespace ward::xmpp::web {

using Response = http::response<http::string_body>;

inline constexpr std::string_view kBoshNs = "http://jabber.org/protocol/httpbind";
inline constexpr std::string_view kFramingNs = "urn:ietf:params:xml:ns:xmpp-framing";

struct WebPolicy {
    std::vector<std::string> hosts;  // lower case: the listener's domains and its bind host
    std::string bosh_path;
    std::string websocket_path;
    std::vector<std::string> allowed_origins;  // normalized (config::normalize_origin)
    bool tls = true;                           // this connection is HTTPS
};

enum class Route { bosh, websocket };

// An answer ward gives itself instead of forwarding.
struct Answer {
    int status = 400;
    std::string why;     // for the log and the body; never contains request bytes
    std::string reason;  // for the metrics: not_found, method, host, origin, upgrade, bad_request, ...
    std::vector<std::pair<std::string, std::string>> headers;
    bool close = false;  // close the connection after it
};

std::variant<Route, Answer> route_request(const Request& request, const WebPolicy& policy);

// A POSTed BOSH payload: exactly one <body/> of the BOSH namespace (XEP-0124 section 4).
std::variant<Element, ElementError> check_bosh_body(std::string_view body);

// An RFC 7395 message from the client: one element, not a stream header, not STARTTLS
// (section 3.9: TLS is the wss:// one). The refusal carries the stream error to send and the
// close code.
struct FrameRefusal {
    StreamCondition condition;
    std::uint16_t close_code;
    std::string why;
};
std::optional<FrameRefusal> check_client_message(std::string_view text);
// The stream error and <close/> ward sends before closing a WebSocket (section 3.6.1).
std::string stream_error_message(StreamCondition condition);

// The request as ward sends it to the backend (HTTP/1.1, keep-alive, or the upgrade).
std::string backend_request(const Request& request, Route route, std::string_view client_address, bool tls);
// The response as ward sends it to the client.
std::string client_response(const Response& response, bool keep_alive);
// Ward's own answer.
std::string answer_bytes(const Answer& answer, bool keep_alive);

// The backend's 101 is a valid answer to the client's upgrade: the accept key for its key, the
// xmpp subprotocol, no extension.
std::optional<std::string> check_upgrade_response(const Request& request, const Response& response);

// The comma-separated tokens of every `name` field, lower-cased (Connection, Upgrade, ...).
std::vector<std::string> tokens(const http::fields& fields, std::string_view name);
// The end of a request ward forwards on a kept-alive connection: Connection: keep-alive, ward's
// own Content-Length (for a body, or any POST), the blank line, the body.
void append_keep_alive_framing(std::string& out, const Request& request);

// Whether the request asks to keep the connection open (HTTP/1.1 unless Connection: close).
bool keep_alive(const Request& request);

}  // namespace ward::xmpp::web
