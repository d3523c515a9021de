// SPDX-License-Identifier: Apache-2.0
#pragma once
// A host's addresses within a deadline: an address literal at once, a name through Asio's
// resolver. What every outbound client of ward's own (OCSP, etcd) shares.
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "proxy/engine/asio.hpp"

namespace ward::proxy {

// `out` holds the endpoints on success; a timeout is boost::beast::error::timeout.
awaitable<error_code> resolve_host(asio::any_io_executor ex, std::string host, std::uint16_t port,
                                   std::chrono::milliseconds timeout, tcp::resolver::results_type& out);

}  // namespace ward::proxy
