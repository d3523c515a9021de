// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/tls/tls_front.hpp"

#include "proxy/engine/session.hpp"

namespace ward::proxy {

namespace {

awaitable<void> serve_tls(Session& s) {
    const bool ready = co_await s.tls_and_backend();
    if (ready) s.start_relay();
}

}  // namespace

std::shared_ptr<const Front> tls_front() { return make_front(&serve_tls); }

}  // namespace ward::proxy
