// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/web/ws_filter.hpp"

#include "xmpp/web/web_request.hpp"
#include "xmpp/web/websocket.hpp"

namespace ward::proxy {

namespace {

namespace web = xmpp::web;

class WsFilter final : public StreamFilter {
public:
    WsFilter(bool from_client, const config::XmppWebOptions& options, ListenerMetrics& metrics)
        : from_client_(from_client),
          reader_(from_client, options.max_message_size),
          timeout_(options.request_timeout),
          metrics_(metrics) {}

    Output feed(const char* data, std::size_t size) override {
        Output out;
        if (!data) {  // the relay asks at the end of the stream
            out.mid_message = reader_.mid_message();
            return out;
        }
        if (closed_) return out;  // after a close frame only the TCP close is to come
        // Frames towards the backend are masked (ward is its client), towards the client not;
        // a reply goes back the way the frame came.
        const bool mask_forward = from_client_;
        const bool mask_reply = !from_client_;
        for (auto& e : reader_.feed(std::string_view(data, size))) {
            switch (e.kind) {
                case web::WsEvent::Kind::message:
                    if (from_client_) {
                        if (auto refusal = web::check_client_message(e.payload)) {
                            metrics_.count(WebRefusal::framing);
                            out.reply += web::ws_frame(web::Opcode::text, web::stream_error_message(refusal->condition), false);
                            out.reply += web::ws_frame(web::Opcode::text,
                                                       "<close xmlns='" + std::string(web::kFramingNs) + "'/>", false);
                            out.reply += web::ws_close(refusal->close_code, "", false);
                            out.forward += web::ws_close(web::close_code::going_away, "", true);
                            out.close = true;
                            out.reason = refusal->why;
                            return out;
                        }
                    }
                    out.forward += web::ws_frame(web::Opcode::text, e.payload, mask_forward);
                    break;
                case web::WsEvent::Kind::ping:
                    out.reply += web::ws_frame(web::Opcode::pong, e.payload, mask_reply);
                    break;
                case web::WsEvent::Kind::pong:
                    break;
                case web::WsEvent::Kind::close:
                    out.forward += web::ws_close(e.code, e.payload, mask_forward);
                    closed_ = true;
                    return out;
                case web::WsEvent::Kind::error:
                    metrics_.count(WebRefusal::framing);
                    out.reply += web::ws_close(e.code, "", mask_reply);
                    out.forward += web::ws_close(web::close_code::going_away, "", mask_forward);
                    out.close = true;
                    out.reason = e.why;
                    return out;
            }
        }
        out.mid_message = reader_.mid_message();
        return out;
    }

    std::chrono::milliseconds message_timeout() const override { return timeout_; }

private:
    bool from_client_;
    web::WsReader reader_;
    std::chrono::milliseconds timeout_;
    ListenerMetrics& metrics_;
    bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamFilter> make_ws_filter(bool from_client, const config::XmppWebOptions& options,
                                             ListenerMetrics& metrics) {
    return std::make_unique<WsFilter>(from_client, options, metrics);
}

}  // namespace ward::proxy
