// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/backend.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>

#include "bench/loadgen/asio.hpp"
#include "bench/loadgen/json_writer.hpp"

namespace ward::loadgen {

namespace {

struct BackendStats {
    std::uint64_t connections = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t errors = 0;
};

class BackendThread {
public:
    BackendThread(const Options& options, std::vector<char>& chunk) : options_(options), acceptor_(io_), chunk_(chunk) {}

    asio::io_context& io() { return io_; }
    tcp::acceptor& acceptor() { return acceptor_; }
    const BackendStats& stats() const { return stats_; }

    void run() {
        asio::co_spawn(io_, accept_loop(), [](std::exception_ptr e) { report_escape(e, "accept loop"); });
        io_.run();
    }

    void stop() {
        asio::post(io_, [this] {
            error_code ec;
            acceptor_.close(ec);
            io_.stop();
        });
    }

private:
    static void report_escape(std::exception_ptr e, const char* what) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "ward-loadgen backend: internal error in the %s: %s\n", what, x.what());
        }
    }

    awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
            if (ec) {
                // EMFILE and the like: wait a little instead of spinning on a full table.
                ++stats_.errors;
                asio::steady_timer pause(io_, std::chrono::milliseconds(20));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            ++stats_.connections;
            asio::co_spawn(io_, session(std::move(socket)), [](std::exception_ptr e) { report_escape(e, "session"); });
        }
    }

    awaitable<void> session(tcp::socket socket) {
        error_code ec;
        socket.set_option(tcp::no_delay(true), ec);
        socket.non_blocking(true, ec);
        socket.native_non_blocking(true, ec);
        switch (options_.backend) {
            case BackendKind::echo: co_await echo(socket); break;
            case BackendKind::source: co_await source(socket); break;
            case BackendKind::discard: co_await discard(socket); break;
            case BackendKind::xmpp: co_await xmpp(socket); break;
            case BackendKind::sip: co_await sip(socket); break;
        }
        socket.close(ec);
    }

    // Reads what is there (into the thread's buffer), or waits; 0 at EOF, -1 on error.
    awaitable<ssize_t> read_some(tcp::socket& socket, char* data, std::size_t size) {
        for (;;) {
            const ssize_t n = ::recv(socket.native_handle(), data, size, 0);
            if (n >= 0) co_return n;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) co_return -1;
            auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
            if (ec) co_return -1;
        }
    }

    awaitable<bool> write_all(tcp::socket& socket, const char* data, std::size_t size) {
        std::size_t off = 0;
        while (off < size) {
            const ssize_t n = ::send(socket.native_handle(), data + off, size - off, MSG_NOSIGNAL);
            if (n >= 0) {
                off += static_cast<std::size_t>(n);
                stats_.bytes_out += static_cast<std::uint64_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
            auto [ec] = co_await socket.async_wait(tcp::socket::wait_write, use_tuple);
            if (ec) co_return false;
        }
        co_return true;
    }

    // Echo with backpressure: read only after the previous data is written. The read buffer
    // is the thread's; only data the socket cannot take at once is copied, into a buffer of
    // this connection that lives until it is written.
    awaitable<void> echo(tcp::socket& socket) {
        for (;;) {
            const ssize_t n = co_await read_some(socket, scratch_.data(), scratch_.size());
            if (n <= 0) {
                if (n == 0) ::shutdown(socket.native_handle(), SHUT_WR);
                co_return;
            }
            stats_.bytes_in += static_cast<std::uint64_t>(n);
            const ssize_t sent = ::send(socket.native_handle(), scratch_.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL);
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return;
            const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
            stats_.bytes_out += done;
            if (done < static_cast<std::size_t>(n)) {
                const std::vector<char> rest(scratch_.data() + done, scratch_.data() + n);
                if (!co_await write_all(socket, rest.data(), rest.size())) co_return;
            }
        }
    }

    awaitable<void> discard(tcp::socket& socket) {
        for (;;) {
            const ssize_t n = co_await read_some(socket, scratch_.data(), scratch_.size());
            if (n <= 0) co_return;
            stats_.bytes_in += static_cast<std::uint64_t>(n);
        }
    }

    // An XMPP server without TLS (what ward relays to): the client's stream header gets this
    // server's header and features; the rest is read and dropped.
    awaitable<void> xmpp(tcp::socket& socket) {
        std::string got;
        while (got.find('>', got.find("<stream:stream")) == std::string::npos || got.find("<stream:stream") == std::string::npos) {
            const ssize_t n = co_await read_some(socket, scratch_.data(), scratch_.size());
            if (n <= 0 || got.size() > 64 * 1024) co_return;
            stats_.bytes_in += static_cast<std::uint64_t>(n);
            got.append(scratch_.data(), static_cast<std::size_t>(n));
        }
        static constexpr std::string_view answer =
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
            "id='loadgen-backend' from='example.org' version='1.0'><stream:features><mechanisms "
            "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
        if (!co_await write_all(socket, answer.data(), answer.size())) co_return;
        co_await discard(socket);
        ::shutdown(socket.native_handle(), SHUT_WR);
    }

    // A SIP UAS that answers every request (no body expected) with 200 OK, its Via, From,
    // To, Call-ID and CSeq copied.
    awaitable<void> sip(tcp::socket& socket) {
        std::string got;
        for (;;) {
            const auto end = got.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (got.size() > 64 * 1024) co_return;
                const ssize_t n = co_await read_some(socket, scratch_.data(), scratch_.size());
                if (n <= 0) {
                    if (n == 0) ::shutdown(socket.native_handle(), SHUT_WR);
                    co_return;
                }
                stats_.bytes_in += static_cast<std::uint64_t>(n);
                got.append(scratch_.data(), static_cast<std::size_t>(n));
                continue;
            }
            std::string response = "SIP/2.0 200 OK\r\n";
            for (std::size_t line = got.find("\r\n") + 2; line < end;) {
                const auto next = got.find("\r\n", line);
                const std::string_view text(got.data() + line, next - line);
                for (std::string_view name : {"Via:", "From:", "To:", "Call-ID:", "CSeq:"})
                    if (text.starts_with(name)) response.append(text).append("\r\n");
                line = next + 2;
            }
            response += "Content-Length: 0\r\n\r\n";
            got.erase(0, end + 4);
            if (!co_await write_all(socket, response.data(), response.size())) co_return;
        }
    }

    // After the first bytes (the request), stream until the peer closes; whatever else it
    // sends is dropped.
    awaitable<void> source(tcp::socket& socket) {
        const ssize_t first = co_await read_some(socket, scratch_.data(), scratch_.size());
        if (first <= 0) co_return;
        stats_.bytes_in += static_cast<std::uint64_t>(first);
        bool done = false;
        using namespace asio::experimental::awaitable_operators;
        co_await (source_reader(socket, done) && source_writer(socket, done));
    }

    awaitable<void> source_reader(tcp::socket& socket, bool& done) {
        while (!done) {
            const ssize_t n = co_await read_some(socket, scratch_.data(), scratch_.size());
            if (n <= 0) break;
            stats_.bytes_in += static_cast<std::uint64_t>(n);
        }
        done = true;
        error_code ec;
        socket.cancel(ec);  // wakes the writer
    }

    awaitable<void> source_writer(tcp::socket& socket, bool& done) {
        while (!done) {
            const bool written = co_await write_all(socket, chunk_.data(), chunk_.size());
            if (!written) break;
        }
        done = true;
        ::shutdown(socket.native_handle(), SHUT_RDWR);  // wakes the reader
    }

    const Options& options_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_;
    std::vector<char>& chunk_;
    std::array<char, 64 * 1024> scratch_{};
    BackendStats stats_;
};

}  // namespace

int run_backend(const Options& o) {
    tcp::endpoint endpoint;
    {
        asio::io_context io;
        tcp::resolver resolver(io);
        error_code ec;
        const auto results = resolver.resolve(o.listen.host, std::to_string(o.listen.port),
                                              tcp::resolver::passive | tcp::resolver::numeric_service, ec);
        if (ec || results.empty()) {
            std::fprintf(stderr, "ward-loadgen backend: cannot resolve '%s': %s\n", o.listen.host.c_str(),
                         ec.message().c_str());
            return 64;
        }
        endpoint = results.begin()->endpoint();
    }

    std::vector<char> chunk(o.source_chunk);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
    std::vector<std::unique_ptr<BackendThread>> threads;
    for (unsigned i = 0; i < o.threads; ++i) {
        auto t = std::make_unique<BackendThread>(o, chunk);
        tcp::acceptor& a = t->acceptor();
        error_code ec;
        a.open(endpoint.protocol(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && o.threads > 1) {
            const int one = 1;
            if (setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
                ec = error_code(errno, boost::system::system_category());
        }
        if (!ec) a.bind(endpoint, ec);
        if (!ec) a.listen(4096, ec);
        if (ec) {
            std::fprintf(stderr, "ward-loadgen backend: cannot listen on %s: %s\n", o.listen.text().c_str(),
                         ec.message().c_str());
            return 69;
        }
        if (i == 0) endpoint = a.local_endpoint();  // port 0: the others take the chosen port
        threads.push_back(std::move(t));
    }

    HostPort bound{endpoint.address().to_string(), endpoint.port()};
    JsonWriter hello;
    hello.open();
    hello.text("listening", bound.text());
    hello.close();
    std::fprintf(stdout, "%s\n", hello.str().c_str());
    std::fflush(stdout);

    asio::io_context control(1);
    asio::signal_set signals(control, SIGINT, SIGTERM);
    signals.async_wait([&](error_code ec, int) {
        if (!ec)
            for (auto& t : threads) t->stop();
    });
    std::vector<std::thread> running;
    for (auto& t : threads) running.emplace_back([t = t.get()] { t->run(); });
    control.run();
    for (auto& r : running) r.join();

    BackendStats total;
    for (const auto& t : threads) {
        total.connections += t->stats().connections;
        total.bytes_in += t->stats().bytes_in;
        total.bytes_out += t->stats().bytes_out;
        total.errors += t->stats().errors;
    }
    JsonWriter bye;
    bye.open();
    bye.text("backend", to_string(o.backend));
    bye.number("connections", total.connections);
    bye.number("bytes_in", total.bytes_in);
    bye.number("bytes_out", total.bytes_out);
    bye.number("accept_errors", total.errors);
    bye.close();
    std::fprintf(stdout, "%s\n", bye.str().c_str());
    std::fflush(stdout);
    return 0;
}

}  // namespace ward::loadgen
