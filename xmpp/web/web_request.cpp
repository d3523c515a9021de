// SPDX-License-Identifier: Apache-2.0
#include "xmpp/web/web_request.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "config/values.hpp"
#include "xmpp/web/websocket.hpp"

namespace ward::xmpp::web {

namespace {

using boost::beast::iequals;


bool has_token(const std::vector<std::string>& list, std::string_view token) {
    for (const auto& t : list)
        if (t == token) return true;
    return false;
}

// Fields that are about one connection (RFC 9110 section 7.6.1), and those ward writes itself
// or must not pass on.
bool dropped(std::string_view name, const std::vector<std::string>& connection_listed, bool request) {
    static constexpr std::string_view hop_by_hop[] = {"connection", "keep-alive", "proxy-connection", "te",
                                                       "trailer", "transfer-encoding", "upgrade", "content-length"};
    static constexpr std::string_view from_client[] = {
        "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip",
        "sec-websocket-extensions", "sec-websocket-protocol", "proxy-authorization"};
    for (auto h : hop_by_hop)
        if (iequals(name, h)) return true;
    if (request)
        for (auto h : from_client)
            if (iequals(name, h)) return true;
    // A name the Connection field lists is about this hop only, unless ward checked it or
    // the backend relies on it: those stay whatever a client lists.
    static constexpr std::string_view kept[] = {"host", "origin", "content-type", "sec-websocket-key",
                                                "sec-websocket-version", "cookie", "authorization"};
    for (const auto& listed : connection_listed) {
        if (!iequals(name, listed)) continue;
        for (auto k : kept)
            if (iequals(name, k)) return false;
        return true;
    }
    return false;
}

Answer answer(int status, std::string why, std::string reason, bool close = false) {
    Answer a;
    a.status = status;
    a.why = std::move(why);
    a.reason = std::move(reason);
    a.close = close;
    return a;
}

// The host of a Host field value (lower case, IPv6 in brackets), or nullopt when invalid.
std::optional<std::string> host_of(std::string_view value) {
    value = trim_ows(value);
    if (value.empty()) return std::nullopt;
    auto normal = config::normalize_origin("http://" + std::string(value));
    if (!normal) return std::nullopt;
    std::string host = normal->substr(7);
    if (host.front() == '[') return host.substr(0, host.find(']') + 1);
    return host.substr(0, host.find(':'));
}

}  // namespace

std::vector<std::string> tokens(const http::fields& fields, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& f : fields) {
        if (!iequals(f.name_string(), name)) continue;
        std::string_view v = f.value();
        while (!v.empty()) {
            const auto comma = v.find(',');
            const auto t = trim_ows(v.substr(0, comma));
            if (!t.empty()) out.push_back(config::lower(t));
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return out;
}

void append_keep_alive_framing(std::string& out, const Request& request) {
    out.append("Connection: keep-alive\r\n");
    if (!request.body().empty() || request.method() == http::verb::post)
        out.append("Content-Length: ").append(std::to_string(request.body().size())).append("\r\n");
    out.append("\r\n");
    out.append(request.body());
}

bool keep_alive(const Request& request) { return request.keep_alive(); }

std::variant<Route, Answer> route_request(const Request& request, const WebPolicy& policy) {
    const std::string_view target = request.target();
    if (target.empty() || target.front() != '/')
        return answer(400, "the request target is not a path", "bad_request", true);
    const auto host_field = request.find(http::field::host);
    const auto host = host_of(host_field->value());
    if (!host) return answer(400, "an invalid Host", "bad_request", true);
    bool known = false;
    for (const auto& h : policy.hosts) {
        const bool v6 = h.find(':') != std::string::npos;
        if ((v6 ? "[" + h + "]" : h) == *host) known = true;
    }
    if (!known) return answer(421, "this listener does not serve that host", "host");
    const auto path = target.substr(0, target.find('?'));
    if (path == policy.bosh_path) {
        const auto m = request.method();
        if (m != http::verb::post && m != http::verb::get && m != http::verb::options) {
            auto a = answer(405, "BOSH takes POST", "method");
            a.headers.emplace_back("Allow", "POST, GET, OPTIONS");
            return a;
        }
        // (Asked of the header alone too, before a 100 Continue: the length says it.)
        const auto length = trim_ows(request[http::field::content_length]);
        if (m != http::verb::post && (request.chunked() || (!length.empty() && length != "0")))
            return answer(400, "a GET or OPTIONS request has no body", "bad_request", true);
        return Route::bosh;
    }
    if (path != policy.websocket_path) return answer(404, "nothing is served at this path", "not_found");
    if (request.method() != http::verb::get) {
        auto a = answer(405, "a WebSocket starts with GET", "method");
        a.headers.emplace_back("Allow", "GET");
        return a;
    }
    if (!has_token(tokens(request, "connection"), "upgrade") || !has_token(tokens(request, "upgrade"), "websocket")) {
        auto a = answer(426, "this path takes WebSocket upgrades only", "upgrade");
        a.headers.emplace_back("Upgrade", "websocket");
        a.headers.emplace_back("Connection", "Upgrade");
        return a;
    }
    if (trim_ows(request[http::field::sec_websocket_version]) != "13") {
        auto a = answer(426, "WebSocket version 13 is required", "upgrade");
        a.headers.emplace_back("Sec-WebSocket-Version", "13");
        return a;
    }
    const auto keys = tokens(request, "sec-websocket-key");
    if (keys.size() != 1 || !valid_ws_key(trim_ows(request[http::field::sec_websocket_key])))
        return answer(400, "an invalid Sec-WebSocket-Key", "upgrade", true);
    if (!has_token(tokens(request, "sec-websocket-protocol"), "xmpp"))
        return answer(400, "the xmpp subprotocol is required (RFC 7395 section 3.1)", "upgrade", true);
    if (request.has_content_length() || request.chunked())
        return answer(400, "a WebSocket upgrade has no body", "upgrade", true);
    // Cross-site WebSocket hijacking: a browser always sends Origin; a page elsewhere must be
    // one the operator allowed (none listed: this host only).
    const auto origins = request.count(http::field::origin);
    if (origins > 1) return answer(400, "more than one Origin", "bad_request", true);
    if (origins == 1) {
        const auto origin = config::normalize_origin(trim_ows(request[http::field::origin]));
        bool allowed = false;
        if (origin) {
            if (policy.allowed_origins.empty()) {
                const auto self = config::normalize_origin(std::string(policy.tls ? "https://" : "http://") +
                                                           std::string(trim_ows(host_field->value())));
                allowed = self && *self == *origin;
            } else {
                for (const auto& o : policy.allowed_origins) allowed = allowed || o == *origin;
            }
        }
        if (!allowed) return answer(403, "this Origin may not open a WebSocket here", "origin", true);
    }
    return Route::websocket;
}

std::variant<Element, ElementError> check_bosh_body(std::string_view body) {
    ElementLimits limits;
    limits.allow_xml_declaration = true;
    auto parsed = parse_element(body, limits);
    if (auto* e = std::get_if<Element>(&parsed)) {
        if (e->ns != kBoshNs || e->local_name != "body")
            return ElementError{StreamCondition::invalid_namespace, "not a <body/> of the BOSH namespace"};
    }
    return parsed;
}

std::optional<FrameRefusal> check_client_message(std::string_view text) {
    auto parsed = parse_element(text);
    if (auto* e = std::get_if<ElementError>(&parsed)) {
        const auto code = e->condition == StreamCondition::policy_violation ? close_code::policy_violation
                                                                             : close_code::protocol_error;
        return FrameRefusal{e->condition, code, "not one XML element per message (RFC 7395 section 3.3.3): " + e->detail};
    }
    const auto& element = std::get<Element>(parsed);
    if (element.ns == kStreamsNs && element.local_name == "stream")
        return FrameRefusal{StreamCondition::invalid_namespace, close_code::protocol_error,
                            "a <stream:stream> header: WebSocket streams open with <open/> (RFC 7395 section 3.3.2)"};
    if (element.ns == kTlsNs)
        return FrameRefusal{StreamCondition::policy_violation, close_code::policy_violation,
                            "STARTTLS over WebSocket (RFC 7395 section 3.9: TLS is the wss:// one)"};
    return std::nullopt;
}

std::string stream_error_message(StreamCondition condition) {
    return "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><" + std::string(condition_name(condition)) +
           " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
}

std::string backend_request(const Request& request, Route route, std::string_view client_address, bool tls) {
    std::string out;
    out.reserve(512 + request.body().size());
    out.append(request.method_string()).append(" ").append(request.target()).append(" HTTP/1.1\r\n");
    const auto listed = tokens(request, "connection");
    std::string forwarded_for;
    for (const auto& f : request) {
        const auto name = f.name_string();
        if (iequals(name, "x-forwarded-for")) {
            const auto v = trim_ows(f.value());
            if (!v.empty()) forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(v);
        }
        if (dropped(name, listed, true)) continue;
        out.append(name).append(": ").append(f.value()).append("\r\n");
    }
    forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(client_address);
    out.append("X-Forwarded-For: ").append(forwarded_for).append("\r\n");
    out.append("X-Forwarded-Proto: ").append(tls ? "https" : "http").append("\r\n");
    if (route == Route::websocket) {
        out.append("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n");
        return out;
    }
    append_keep_alive_framing(out, request);
    return out;
}

std::string client_response(const Response& response, bool keep) {
    const auto status = response.result_int();
    std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
    const auto reason = response.reason();
    out.append(reason.empty() ? http::obsolete_reason(response.result()) : reason).append("\r\n");
    const auto listed = tokens(response, "connection");
    for (const auto& f : response) {
        if (dropped(f.name_string(), listed, false)) continue;
        out.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
    }
    if (status == 101) {
        out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        return out;
    }
    if (status >= 200 && status != 204 && status != 304)
        out.append("Content-Length: ").append(std::to_string(response.body().size())).append("\r\n");
    out.append(keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    out.append("\r\n");
    out.append(response.body());
    return out;
}

std::string answer_bytes(const Answer& a, bool keep) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(a.status));
    const std::string body = std::to_string(a.status) + " " + std::string(reason) + ": " + a.why + "\n";
    std::string out = "HTTP/1.1 " + std::to_string(a.status) + " " + std::string(reason) + "\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    for (const auto& [name, value] : a.headers) out += name + ": " + value + "\r\n";
    out += keep && !a.close ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    out += "\r\n" + body;
    return out;
}

std::optional<std::string> check_upgrade_response(const Request& request, const Response& response) {
    if (response.result_int() != 101) return "not 101";
    if (!has_token(tokens(response, "upgrade"), "websocket")) return "no Upgrade: websocket";
    if (trim_ows(response[http::field::sec_websocket_accept]) != ws_accept(trim_ows(request[http::field::sec_websocket_key])))
        return "a wrong Sec-WebSocket-Accept";
    const auto protocols = tokens(response, "sec-websocket-protocol");
    if (protocols.size() != 1 || protocols.front() != "xmpp") return "not the xmpp subprotocol";
    if (response.count(http::field::sec_websocket_extensions) != 0) return "an extension ward did not offer";
    return std::nullopt;
}

}  // namespace ward::xmpp::web
