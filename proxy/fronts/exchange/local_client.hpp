// SPDX-License-Identifier: Apache-2.0
#pragma once
// The exchange-egress front's local side: the presence service's plain HTTP/1.1 connection on
// loopback. Requests read strictly (xmpp/web's reader, with a deadline per request and one for
// the idle wait), ward's own answers, the writes, each within request_timeout.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "proxy/engine/session.hpp"
#include "xmpp/web/http_request.hpp"

namespace ward::proxy {

class LocalClient {
public:
    LocalClient(Session& s, const config::ExchangeOptions& options);

    // The next request into `out`; false when the connection is over (closed, idle, or refused
    // and answered).
    awaitable<bool> next_request(xmpp::web::Request& out);
    // Writes `bytes` within request_timeout; false when that failed (the summary says why).
    awaitable<bool> write(std::string bytes);
    // Ward's own answer; with `close`, then the end of the connection.
    awaitable<void> refuse(int status, std::string why, bool close);
    awaitable<void> refuse_with(int status, std::string why, bool close,
                                std::vector<std::pair<std::string, std::string>> headers);
    // A reload: the next requests are read with these options' limits (bytes already sent stay).
    void follow(const config::ExchangeOptions& options);

private:
    Session& s_;
    const config::ExchangeOptions* options_;
    std::unique_ptr<xmpp::web::RequestReader> reader_;
    std::string buffer_;
};

}  // namespace ward::proxy
