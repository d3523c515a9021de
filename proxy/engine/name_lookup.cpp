// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/name_lookup.hpp"

#include <memory>

#include <boost/beast/core/error.hpp>

#include "proxy/engine/log.hpp"

namespace ward::proxy {

namespace {

// A name lookup that may outlive the caller that asked for it: getaddrinfo runs on Asio's
// resolver thread and cannot be interrupted, so the caller waits on `done` until the lookup or
// its deadline, whichever comes first, and the lookup finishes on its own.
struct Lookup {
    explicit Lookup(const asio::any_io_executor& ex) : done(ex) {}
    asio::steady_timer done;
    bool finished = false;
    error_code ec;
    tcp::resolver::results_type results;
};

awaitable<void> look_up(std::shared_ptr<Lookup> lookup, std::string host, std::string port) {
    tcp::resolver resolver(lookup->done.get_executor());
    auto resolve = resolver.async_resolve(host, port, use_tuple);
    auto [ec, results] = co_await std::move(resolve);
    lookup->ec = ec;
    lookup->results = std::move(results);
    lookup->finished = true;
    lookup->done.cancel();
}

}  // namespace

awaitable<error_code> resolve_host(asio::any_io_executor ex, std::string host, std::uint16_t port,
                                   std::chrono::milliseconds timeout, tcp::resolver::results_type& out) {
    error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) {
        out = tcp::resolver::results_type::create(tcp::endpoint(address, port), host, std::to_string(port));
        co_return error_code{};
    }
    auto lookup = std::make_shared<Lookup>(ex);
    lookup->done.expires_after(timeout);
    // (The lookup reports through `lookup`; an exception in it leaves `finished` false: a timeout.)
    asio::co_spawn(ex, look_up(lookup, host, std::to_string(port)), [](std::exception_ptr e) {
        if (e) proxy_log().error("a name lookup ended by an unexpected exception");
    });
    auto wait = lookup->done.async_wait(use_tuple);
    co_await std::move(wait);
    if (!lookup->finished) co_return make_error_code(boost::beast::error::timeout);
    out = lookup->results;
    co_return lookup->ec;
}

}  // namespace ward::proxy
