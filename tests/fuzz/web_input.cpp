// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the xmpp-web listener's readers. The first byte picks the reader and the chunk
// size; the rest is the input. Each reader is run twice, whole and in chunks, and must give the
// same outcome (a difference aborts): the HTTP request reader (then routing, the request as
// forwarded, and the BOSH payload check on each request), the WebSocket frame reader from a
// client (then the RFC 7395 message check) and from a server, and the one-element XML check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/web/http_request.hpp"
#include "xmpp/web/web_request.hpp"
#include "xmpp/web/websocket.hpp"

namespace web = ward::xmpp::web;

namespace {

std::vector<std::string> requests(std::string_view in, std::size_t step) {
    web::RequestReader reader({4096, 8192});
    web::WebPolicy policy;
    policy.hosts = {"chat.example", "127.0.0.1"};
    policy.bosh_path = "/http-bind";
    policy.websocket_path = "/xmpp-websocket";
    policy.allowed_origins = {"https://app.example"};
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < in.size(); pos += step) {
        reader.feed(in.substr(pos, step));
        for (;;) {
            auto r = reader.next();
            if (r.status == web::ReadResult::Status::need_more) break;
            if (r.status == web::ReadResult::Status::refused) {
                out.push_back("refused " + std::to_string(r.refusal));
                return out;
            }
            auto routed = web::route_request(r.request, policy);
            std::string line = std::string(r.request.method_string()) + " " + std::string(r.request.target());
            if (auto* route = std::get_if<web::Route>(&routed)) {
                const auto forwarded = web::backend_request(r.request, *route, "192.0.2.1", true);
                // What ward writes on never carries a CR or LF inside a line of its own making.
                if (forwarded.find("\r\n\r\n") == std::string::npos) std::abort();
                if (*route == web::Route::bosh) (void)web::check_bosh_body(r.request.body());
                line += " forwarded " + std::to_string(forwarded.size());
            } else {
                line += " answered " + std::to_string(std::get<web::Answer>(routed).status);
            }
            out.push_back(line);
        }
    }
    return out;
}

std::vector<std::string> frames(std::string_view in, std::size_t step, bool from_client) {
    web::WsReader reader(from_client, 4096);
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < in.size() && !reader.spent(); pos += step) {
        for (auto& e : reader.feed(in.substr(pos, step))) {
            if (e.kind == web::WsEvent::Kind::message && from_client) (void)web::check_client_message(e.payload);
            out.push_back(std::to_string(static_cast<int>(e.kind)) + " " + std::to_string(e.code) + " " + e.payload);
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const unsigned mode = data[0] % 4;
    const std::size_t step = 1 + (data[0] >> 2) % 32;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (mode) {
        case 0:
            if (requests(in, in.size() + 1) != requests(in, step)) std::abort();
            break;
        case 1:
        case 2:
            if (frames(in, in.size() + 1, mode == 1) != frames(in, step, mode == 1)) std::abort();
            break;
        default:
            (void)web::parse_element(in);
            break;
    }
    return 0;
}
