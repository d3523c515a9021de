// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/errors.hpp"

namespace ward::proxy {

namespace {

// Boost's error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class WardCategory : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "ward"; }
    std::string message(int e) const override {
        switch (static_cast<Errc>(e)) {
            case Errc::tls_handshake_failed: return "TLS handshake failed";
            case Errc::peer_refused: return "peer certificate refused";
            case Errc::tls_failure: return "TLS failure";
            case Errc::timed_out: return "timed out";
            case Errc::backend_unreachable: return "backend unreachable";
            case Errc::protocol_error: return "protocol error";
            case Errc::limit_exceeded: return "connection limit reached";
            case Errc::shutting_down: return "shutting down";
            case Errc::want_write: return "waiting until the socket is writable";
            case Errc::internal: return "internal error";
        }
        return "unknown";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& ward_category() {
    static const WardCategory category;
    return category;
}

}  // namespace ward::proxy
