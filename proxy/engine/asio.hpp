// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Asio names the engine uses. (In Boost 1.81 as_tuple is asio::as_tuple; the experimental
// alias is compiled out under BOOST_ASIO_NO_DEPRECATED.)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ward::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = asio::awaitable<T>;

// Completion token: returns (error_code, results...) instead of throwing.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// "127.0.0.1:443" or "[::1]:443", for logs.
inline std::string endpoint_text(const tcp::endpoint& e) {
    const auto a = e.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

}  // namespace ward::proxy
