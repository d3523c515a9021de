// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP of the Exchange egress, without I/O: which requests go to Exchange, the request as
// Exchange gets it, and the challenges in Exchange's answer.
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proxy/exchange/http_auth.hpp"
#include "proxy/fronts/http/response_reader.hpp"
#include "xmpp/web/http_request.hpp"

namespace ward::proxy::egress {

// What EWS needs: GET, HEAD and POST. Others (TRACE and TRACK would echo ward's Authorization
// back; CONNECT would tunnel) are answered 405 by ward.
bool method_allowed(const xmpp::web::Request& request);
inline constexpr std::string_view kAllowedMethods = "GET, HEAD, POST";

// EWS (/EWS/...) and Autodiscover (/Autodiscover/...), IIS's case-insensitive paths, in one
// spelling (config::is_http_path: no query, '%', '.' or '..' segment; no backslash): ward's
// credentials reach nothing else on the server.
bool path_allowed(std::string_view target);

// The request as Exchange gets it: hop-by-hop fields (and those the Connection field names),
// the client's own Authorization and Proxy-Authorization, Expect and Host dropped; Host the
// server's; `authorization` when not empty; framing (Content-Length) ward's own.
std::string upstream_request(const xmpp::web::Request& request, const config::Endpoint& server,
                             std::string_view authorization);

// The challenges of every WWW-Authenticate field of a response.
std::vector<exchange::Offer> offers(const http_io::Response& response);

}  // namespace ward::proxy::egress
