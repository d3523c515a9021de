// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Asio names the load generator uses (Boost 1.81: as_tuple is asio::as_tuple).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ward::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = asio::awaitable<T>;

// Completion token: returns (error_code, results...) instead of throwing, so expected
// failures (reset, cancel) never cost an exception.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace ward::loadgen
