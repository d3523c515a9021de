// SPDX-License-Identifier: Apache-2.0
#pragma once
// Expected failures of a session, as error codes that become its close reason.
#include <string>
#include <system_error>

#include <boost/system/error_code.hpp>

namespace ward::proxy {

enum class Errc {
    tls_handshake_failed = 1,  // the peer and ward could not agree (alert, protocol error)
    peer_refused,              // the peer's certificate was refused (chain, mode or subject)
    tls_failure,               // a TLS error after the handshake
    timed_out,                 // a phase did not finish within its deadline
    backend_unreachable,       // no backend accepted the connection
    protocol_error,            // bytes that break the protocol (SIP framing)
    limit_exceeded,            // max_connections
    shutting_down,             // drain timeout reached on stop
    want_write,                // TLS must write before it can go on (wait until writable).
                               // Not asio::error::try_again: on Linux that equals would_block.
    internal,                  // ward failed (an exception); the error log says more
};

const boost::system::error_category& ward_category();

inline boost::system::error_code make_error_code(Errc e) {
    return {static_cast<int>(e), ward_category()};
}

}  // namespace ward::proxy

template <>
struct boost::system::is_error_code_enum<ward::proxy::Errc> : std::true_type {};
