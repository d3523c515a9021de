// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/exchange/egress_request.hpp"

#include <boost/beast/core/string.hpp>

#include "config/values.hpp"
#include "xmpp/web/web_request.hpp"

namespace ward::proxy::egress {

namespace http = boost::beast::http;
using boost::beast::iequals;

bool method_allowed(const xmpp::web::Request& request) {
    const auto m = request.method();
    return m == http::verb::get || m == http::verb::head || m == http::verb::post;
}

bool path_allowed(std::string_view target) {
    // One spelling only: no query, no percent-encoding, no backslash, no '.' or '..' segment, no
    // '//' (what IIS would decode or resolve into another path is never sent).
    if (!config::is_http_path(target) || target.find('\\') != std::string_view::npos) return false;
    for (std::string_view prefix : {"/ews/", "/autodiscover/"})
        if (target.size() > prefix.size() && iequals(target.substr(0, prefix.size()), prefix)) return true;
    return false;
}

std::string upstream_request(const xmpp::web::Request& request, const config::Endpoint& server,
                             std::string_view authorization) {
    const auto listed = xmpp::web::tokens(request, "connection");
    static constexpr std::string_view dropped[] = {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "content-length", "host", "expect", "authorization", "proxy-authorization", "proxy-authenticate"};
    // Room for everything at once: the Authorization line must not be left behind in a buffer
    // freed by a reallocation (the caller cleanses the one it gets).
    std::size_t size = 512 + authorization.size() + request.target().size() + request.body().size();
    for (const auto& f : request) size += f.name_string().size() + f.value().size() + 4;
    std::string out;
    out.reserve(size);
    out.append(request.method_string()).append(" ").append(request.target()).append(" HTTP/1.1\r\n");
    auto host = server.to_string();  // host:port, [v6]:port
    if (server.port == 443) host.resize(host.rfind(':'));
    out.append("Host: ").append(host).append("\r\n");
    for (const auto& f : request) {
        const auto name = f.name_string();
        bool drop = false;
        for (auto d : dropped) drop = drop || iequals(name, d);
        for (const auto& l : listed) drop = drop || iequals(name, l);
        if (!drop) out.append(name).append(": ").append(f.value()).append("\r\n");
    }
    if (!authorization.empty()) out.append("Authorization: ").append(authorization).append("\r\n");
    xmpp::web::append_keep_alive_framing(out, request);
    return out;
}

std::vector<exchange::Offer> offers(const http_io::Response& response) {
    std::vector<std::string_view> values;
    for (const auto& f : response)
        if (iequals(f.name_string(), "www-authenticate")) values.push_back(f.value());
    return exchange::parse_challenges(values);
}

}  // namespace ward::proxy::egress
