// SPDX-License-Identifier: Apache-2.0
#pragma once
// SIP edge routing both ways (RFC 3261 section 16, RFC 3327 Path, RFC 5626 flow tokens, RFC
// 5658 double Record-Route): the head edits that keep ward on the path of later requests, so
// that a backend (a registrar, a SIP proxy) reaches a peer over the TLS connection the peer
// opened to ward. Pure: the plans here are what the framer's hook returns; the front (proxy/
// fronts/sip/) owns the connections and the flow table.
//
// ward writes two URIs of its own:
//   outer  <sip:HOST:PORT;transport=tls;lr>        where peers reach the sip listener (advertised)
//   inner  <sip:TOKEN@ADDR:PORT;transport=tcp;lr>  the return listener on loopback, the flow token
//                                                  naming the peer's TLS connection
// A request from a peer gets, right after its start-line, the pair
//     Record-Route: <inner, this flow>      (faces the backend, the next hop)
//     Record-Route: <outer>                 (faces the peer)
// or, on REGISTER, `Path: <inner, this flow>` (with `;ob` when the Contact has reg-id, RFC 5626
// section 5.1). A request from the backend on the return listener goes to the flow its top Route
// names and gets the pair the other way round (outer on top: the peer is the next hop).
//
// Both ways ward acts as a proxy on the hop: Max-Forwards is decremented (added as 70 when
// missing, 483 at zero), and the Route entries that name ward at the top are removed. A Route
// or Path entry that names the return listener must carry a valid token wherever it is, or the
// request is refused (403): ward never forwards a request that names it without a valid token.
// Responses are not edited (Via is ward's only in the sense that there is none of ward's).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/flow_token.hpp"
#include "sip/framer.hpp"
#include "sip/message_head.hpp"

namespace ward::sip {

struct EdgeAddresses {
    std::string outer;  // host:port of the sip listener as peers reach it ("sip.example.com:5061")
    std::string inner;  // host:port of the return listener ("127.0.0.1:5070")
};

std::string outer_route(const EdgeAddresses& at);
std::string inner_route(const EdgeAddresses& at, std::string_view token, bool ob = false);

// One value of a Route, Record-Route or Path header: `[display-name] <uri> *(;param)`.
struct RouteValue {
    std::string_view text;  // the whole value, without surrounding whitespace
    std::string_view uri;   // between < and >
};
// The comma-separated values of one header value (obsolete folding allowed); nullopt when one is
// not a name-addr.
std::optional<std::vector<RouteValue>> split_route_values(std::string_view value);

// The user part (may be empty) and host[:port] of a sip: or sips: URI.
struct SipUri {
    std::string_view user;
    std::string_view host_port;
};
std::optional<SipUri> parse_sip_uri(std::string_view uri);

// The branch parameter of the first Via value (empty when there is none).
std::string_view top_via_branch(std::string_view head, const MessageHead& parsed);

// What a request from a peer becomes (responses: forwarded as they are). `own_flow` is the flow
// the request arrived on. A Route entry of ward's must carry a dialog token for this request's
// Call-ID; a Path naming ward is refused (only ward writes those, towards the backend).
HeadPlan plan_from_peer(std::string_view head, const MessageHead& parsed, const EdgeAddresses& at,
                        std::uint64_t own_flow, FlowTokens& tokens);

// A flow the return listener can send to.
struct FlowEnds {
    EdgeAddresses at;      // of the sip listener the flow came in on
    std::string listener;  // that listener's name
};
// The flow with this id, if it is open.
using FindFlow = std::function<std::optional<FlowEnds>(std::uint64_t)>;

// What a message from the backend on the return listener of `listener` (`inner`: its
// host:port) becomes: a request diverted to the flow its top Route names (HeadPlan::divert is
// the flow id), or answered: 403 (no flow token, a bad one, one for another dialog or another
// listener's flow), 430 Flow Failed (the flow is closed), 483, 400. Responses are dropped: ward
// sends no request from the return listener.
HeadPlan plan_from_backend(std::string_view head, const MessageHead& parsed, std::string_view listener,
                           std::string_view inner, FlowTokens& tokens, const FindFlow& find);

}  // namespace ward::sip
