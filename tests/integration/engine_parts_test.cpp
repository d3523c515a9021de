// SPDX-License-Identifier: Apache-2.0
// The engine's parts on their own: the buffer pool, the metrics text, a Connection's reads and
// ends on real sockets, and the relay pump driven through a front and filter of the test's
// own (the engine knows no protocol: this front is as good as any).
#include <doctest/doctest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"
#include "proxy/engine/buffer_pool.hpp"
#include "proxy/engine/connection.hpp"
#include "proxy/engine/front.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/metrics.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/fronts/fronts.hpp"
#include "tls/socket_io.hpp"

using namespace ward;
using namespace ward::test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST_CASE("engine parts: the buffer pool hands back what was returned - by size - and keeps a bounded number") {
    proxy::BufferPool pool(2);
    char* first = nullptr;
    {
        auto a = pool.take(1024);
        REQUIRE(a.size() == 1024);
        first = a.data();
    }
    CHECK(pool.free_count() == 1);
    {
        auto other_size = pool.take(2048);  // a size nobody returned: a new buffer
        CHECK(other_size.data() != first);
        auto again = pool.take(1024);  // the one returned before
        CHECK(again.data() == first);
    }
    CHECK(pool.free_count() == 2);
    {
        auto a = pool.take(4096), b = pool.take(4096), c = pool.take(4096);
    }
    CHECK(pool.free_count() == 2);  // the third one was freed, not kept
}

TEST_CASE("engine parts: the metrics text adds up each worker's relay counters") {
    proxy::Metrics metrics(2);
    auto m = metrics.listener("edge", "tls");
    m->accepted.fetch_add(3);
    m->handshakes_ok.fetch_add(2);
    m->observe_handshake(3ms);
    proxy::RelayCounters::add(m->relay_of(0).bytes_from_client, 10);
    proxy::RelayCounters::add(m->relay_of(1).bytes_from_client, 5);
    proxy::RelayCounters::add(m->relay_of(1).bytes_to_client, 7);
    const auto text = metrics.prometheus_text();
    for (const char* line : {
             "ward_connections_accepted_total{listener=\"edge\",protocol=\"tls\"} 3\n",
             "ward_handshakes_total{listener=\"edge\",protocol=\"tls\",result=\"ok\"} 2\n",
             "ward_bytes_total{listener=\"edge\",protocol=\"tls\",direction=\"from_client\"} 15\n",
             "ward_bytes_total{listener=\"edge\",protocol=\"tls\",direction=\"to_client\"} 7\n",
             "ward_handshake_duration_seconds_bucket{listener=\"edge\",protocol=\"tls\",le=\"0.002\"} 0\n",
             "ward_handshake_duration_seconds_bucket{listener=\"edge\",protocol=\"tls\",le=\"0.005\"} 1\n",
             "ward_handshake_duration_seconds_count{listener=\"edge\",protocol=\"tls\"} 1\n",
             "# TYPE ward_bytes_total counter\n",
         }) {
        CAPTURE(line);
        CHECK(text.find(line) != std::string::npos);
    }
}

namespace {

// A connected pair of TCP sockets on loopback, as the engine gets them.
struct SocketPair {
    asio::io_context io;
    proxy::tcp::socket near{io};
    proxy::tcp::socket far{io};
    SocketPair() {
        proxy::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        far.connect(acceptor.local_endpoint());
        acceptor.accept(near);
    }
};

template <class Body>
void run(asio::io_context& io, Body body) {
    bool done = false;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
        done = true;
        if (e) std::rethrow_exception(e);
    });
    io.run_for(10s);
    CHECK(done);
}

// One read_some (waiting as the relay does when told to), the io_context ready for the next run.
std::pair<proxy::error_code, std::size_t> read_waiting(asio::io_context& io, proxy::Connection& c, char* buf,
                                                       std::size_t size) {
    std::pair<proxy::error_code, std::size_t> out;
    run(io, [&]() -> proxy::awaitable<void> { out = co_await c.read_some(buf, size); });
    io.restart();
    return out;
}

// What a TLS test needs: a PKI, the "peer" context (no client certificate asked for), a client
// context and a socket pair.
struct TlsSetup {
    TempDir dir{"engine-parts"};
    TestPki pki{dir.path()};
    LoadedConfig loaded = load_config(dir.path(), config_yaml("    verify_peer: none\n"));
    tls::UniqueSslCtx client_ctx = make_peer_ctx(client_options(pki));
    SocketPair pair;
};

// Both ends' handshakes, to the end.
void handshake(SocketPair& pair, proxy::Connection& server, proxy::Connection& client) {
    run(pair.io, [&]() -> proxy::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (server.handshake() && client.handshake());
    });
    pair.io.restart();
}

// The setup's "peer" server and its client attached to the pair's two ends, handshaken.
void secure(TlsSetup& t, proxy::Connection& server, proxy::Connection& client) {
    server.attach_tls(t.loaded.context("peer").new_server());
    client.attach_tls(make_peer_client(t.client_ctx.get()));
    handshake(t.pair, server, client);
}

}  // namespace

TEST_CASE("engine parts: a connection reads what is there - says would_block when nothing is - and eof at the end") {
    SocketPair pair;
    proxy::Connection c(std::move(pair.near));
    char buf[16];
    auto [ec, n] = c.try_read(buf, sizeof buf);
    CHECK(ec == asio::error::would_block);
    CHECK(proxy::Connection::must_wait(ec));
    REQUIRE(::send(pair.far.native_handle(), "abc", 3, 0) == 3);
    run(pair.io, [&]() -> proxy::awaitable<void> {
        CHECK_FALSE(co_await c.wait_for(asio::error::would_block));
    });
    std::tie(ec, n) = c.try_read(buf, sizeof buf);
    CHECK_FALSE(ec);
    CHECK(std::string(buf, n) == "abc");
    pair.far.close();
    pair.io.restart();
    run(pair.io, [&]() -> proxy::awaitable<void> {
        auto [e, got] = co_await c.read_some(buf, sizeof buf);
        CHECK(e == asio::error::eof);
    });
}

namespace {

// Runs the reactor once with nothing waiting on the connection's socket, as the worker does
// between a session's read and its wait: a readiness edge that came meanwhile is taken then and
// lost for the socket (Asio keeps no event for a descriptor nobody waits on). A timer far away
// keeps the io_context from returning before it polls.
void take_the_edge(asio::io_context& io) {
    asio::steady_timer keep(io, 1h);
    keep.async_wait([](proxy::error_code) {});
    io.restart();
    io.poll();
    keep.cancel();
    io.run();
    io.restart();
}

}  // namespace

TEST_CASE("engine parts: a read that emptied the socket skips the next one - and bytes that came meanwhile still wake the wait") {
    // After a read that got fewer bytes than it asked for, the next try_read says would_block
    // without asking the socket (the bytes sent since are still there, unread). The wait that
    // follows must wake for them at once, also when their readiness edge was taken by the
    // reactor while nobody waited: Asio's async_wait re-arms the descriptor.
    SocketPair pair;
    proxy::Connection c(std::move(pair.near));
    char buf[16];
    REQUIRE(::send(pair.far.native_handle(), "abc", 3, 0) == 3);
    proxy::error_code ec;
    std::size_t n = 0;
    std::tie(ec, n) = read_waiting(pair.io, c, buf, sizeof buf);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buf, n) == "abc");
    REQUIRE(::send(pair.far.native_handle(), "def", 3, 0) == 3);
    take_the_edge(pair.io);
    std::tie(ec, n) = c.try_read(buf, sizeof buf);
    CHECK(ec == asio::error::would_block);  // skipped: the bytes are still in the socket
    CHECK(::recv(c.socket().native_handle(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT) == 3);
    bool woke = false;
    asio::co_spawn(pair.io, [&]() -> proxy::awaitable<void> {
        CHECK_FALSE(co_await c.wait_for(ec));
        woke = true;
    }, asio::detached);
    pair.io.run_for(5s);  // (returns at once when it woke)
    REQUIRE(woke);
    std::tie(ec, n) = c.try_read(buf, sizeof buf);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buf, n) == "def");
    // A read that filled its buffer says nothing of what is left: the next one reads.
    REQUIRE(::send(pair.far.native_handle(), "0123456789abcdefXYZ", 19, 0) == 19);
    pair.io.restart();
    std::tie(ec, n) = read_waiting(pair.io, c, buf, sizeof buf);
    REQUIRE(n == sizeof buf);
    std::tie(ec, n) = c.try_read(buf, sizeof buf);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buf, n) == "XYZ");
}

TEST_CASE("engine parts: a backend just connected is waited for before its first read - and what it said first is read") {
    // The first read after connect() is skipped (the backend has been sent nothing); a backend
    // that speaks first is still heard, at once.
    asio::io_context io;
    proxy::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    proxy::tcp::socket raw(io);
    raw.open(proxy::tcp::v4());
    raw.non_blocking(true);
    proxy::Connection backend(std::move(raw));
    proxy::error_code ec;
    run(io, [&]() -> proxy::awaitable<void> { ec = co_await backend.connect(acceptor.local_endpoint()); });
    REQUIRE_FALSE(ec);
    proxy::tcp::socket far(io);
    acceptor.accept(far);
    REQUIRE(::send(far.native_handle(), "banner", 6, 0) == 6);
    take_the_edge(io);
    char buf[16];
    std::size_t n = 0;
    std::tie(ec, n) = backend.try_read(buf, sizeof buf);
    CHECK(ec == asio::error::would_block);
    io.restart();
    std::tie(ec, n) = read_waiting(io, backend, buf, sizeof buf);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buf, n) == "banner");
}

TEST_CASE("engine parts: a TLS read that emptied the socket - and the record that came meanwhile is read after the wait") {
    TlsSetup t;
    auto& pair = t.pair;
    proxy::Connection server(std::move(pair.near));
    proxy::Connection client(std::move(pair.far));
    secure(t, server, client);
    char got[64];
    proxy::error_code ec;
    std::size_t n = 0;
    for (const char* word : {"one", "two"}) {
        run(pair.io, [&]() -> proxy::awaitable<void> { CHECK_FALSE(co_await client.write_all(word, 3)); });
        take_the_edge(pair.io);
#if defined(WARD_TLS_WOLFSSL)
        if (std::string_view(word) == "two") {
            // The read of "one" emptied the socket: this ask is answered without it, once.
            std::tie(ec, n) = server.try_read(got, sizeof got);
            CHECK(ec == asio::error::would_block);
            CHECK(::recv(server.socket().native_handle(), got, sizeof got, MSG_PEEK | MSG_DONTWAIT) > 0);
        }
#endif
        std::tie(ec, n) = read_waiting(pair.io, server, got, sizeof got);
        REQUIRE_FALSE(ec);
        CHECK(std::string(got, n) == word);
    }
}

TEST_CASE("engine parts: a write the socket cannot take at once keeps the connection's writes until its rest is out - and another waits behind it") {
    // The relay's plain direction writes with try_write; a full socket leaves the rest to
    // write_rest, and no other write may come in between (TLS needs the same bytes offered
    // again; in the clear, another writer's bytes would land in the middle).
    for (const bool with_tls : {false, true}) {
        CAPTURE(with_tls);
        TlsSetup t;
        auto& pair = t.pair;
        pair.near.set_option(asio::socket_base::send_buffer_size(4096));
        proxy::Connection server(std::move(pair.near));
        proxy::Connection client(std::move(pair.far));
        if (with_tls) secure(t, server, client);
        std::string big(512 * 1024, 'b');  // more than the peer's receive buffer: the client reads nothing yet
        for (std::size_t i = 0; i < big.size(); i += 991) big[i] = static_cast<char>('a' + i % 26);
        std::size_t written = 0;
        const auto tried = server.try_write(big.data(), big.size(), written);
        REQUIRE(proxy::Connection::must_wait(tried));
        CHECK(written < big.size());
        std::size_t none = 0;
        CHECK(server.try_write("x", 1, none) == asio::error::in_progress);
        CHECK(none == 0);
        bool second_done = false;
        bool rest_done = false;
        asio::co_spawn(pair.io, [&]() -> proxy::awaitable<void> {
            CHECK_FALSE(co_await server.write_all("second", 6));
            second_done = true;
        }, asio::detached);
        asio::co_spawn(pair.io, [&]() -> proxy::awaitable<void> {
            CHECK_FALSE(co_await server.write_rest(big.data(), big.size(), written, tried));
            rest_done = true;
        }, asio::detached);
        std::string got;
        run(pair.io, [&]() -> proxy::awaitable<void> {
            std::vector<char> chunk(64 * 1024);
            while (got.size() < big.size() + 6) {
                auto [e, n] = co_await client.read_some(chunk.data(), chunk.size());
                if (e) break;
                got.append(chunk.data(), n);
            }
        });
        CHECK(rest_done);
        CHECK(second_done);
        CHECK(got.size() == big.size() + 6);
        CHECK((got == big + "second"));
        pair.io.restart();
    }
}

TEST_CASE("engine parts: a TLS peer that vanishes without close_notify is an eof - not a clean one") {
    TempDir dir("engine-parts");
    TestPki pki(dir.path());
    const auto loaded = load_config(dir.path(), config_yaml("    verify_peer: none\n"));
    auto client_ctx = make_peer_ctx(client_options(pki));
    for (bool say_goodbye : {true, false}) {
        CAPTURE(say_goodbye);
        SocketPair pair;
        proxy::Connection server(std::move(pair.near));
        server.attach_tls(loaded.context("peer").new_server());
        proxy::Connection client(std::move(pair.far));
        client.attach_tls(make_peer_client(client_ctx.get()));
        proxy::error_code server_ec, client_ec;
        run(pair.io, [&]() -> proxy::awaitable<void> {
            using namespace asio::experimental::awaitable_operators;
            std::tie(server_ec, client_ec) = co_await (server.handshake() && client.handshake());
        });
        REQUIRE_FALSE(server_ec);
        REQUIRE_FALSE(client_ec);
        pair.io.restart();
        if (say_goodbye) {
            run(pair.io, [&]() -> proxy::awaitable<void> { co_await client.shutdown_send(); });
            pair.io.restart();
        } else {
            client.socket().shutdown(proxy::tcp::socket::shutdown_send);  // a FIN, no close_notify
        }
        run(pair.io, [&]() -> proxy::awaitable<void> {
            std::array<char, 64> buf;
            auto [e, got] = co_await server.read_some(buf.data(), buf.size());
            CHECK(e == asio::error::eof);
        });
        CHECK(server.clean_eof() == say_goodbye);
    }
}

TEST_CASE("engine parts: TLS records that arrive together are read from the TLS layer - and nothing is held once read") {
    // Both libraries read ahead (OpenSSL by its own setting, wolfSSL through ward's receive):
    // what the socket had is read at once, and the records after the first come from the TLS
    // layer. Nothing may stay there unread for a wait on the socket that would never end, and
    // a connection that has read everything holds no read-ahead buffer.
    TlsSetup t;
    auto& pair = t.pair;
    proxy::Connection server(std::move(pair.near));
    proxy::Connection client(std::move(pair.far));
    secure(t, server, client);
    std::string big(48 * 1024, 'b');  // three records and some, within the socket's buffers
    for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
    run(pair.io, [&]() -> proxy::awaitable<void> {
        for (const char* word : {"one", "two", "three"}) CHECK_FALSE(co_await client.write_all(word, std::strlen(word)));
        CHECK_FALSE(co_await client.write_all(big.data(), big.size()));
    });
    pair.io.restart();
    const int fd = server.socket().native_handle();
    char got[512];
    // (Read as the relay reads, waiting when told: the handshake's last read left the socket
    // empty, so the first try_read may say would_block without looking.)
    proxy::error_code ec;
    std::size_t n = 0;
    std::tie(ec, n) = read_waiting(pair.io, server, got, sizeof got);
    REQUIRE_FALSE(ec);
    CHECK(std::string(got, n) == "one");
    CHECK(server.has_pending());
#if defined(WARD_TLS_WOLFSSL)
    CHECK(tls::io_buffers(server.ssl()).read_ahead > 0);
#endif
    for (const char* word : {"two", "three"}) {
        std::tie(ec, n) = server.try_read(got, sizeof got);
        REQUIRE_FALSE(ec);
        CHECK(std::string(got, n) == word);
    }
    // The rest, in reads smaller than a record, with waits on the socket only when it is empty.
    std::string rest;
    std::vector<char> chunk(3000);
    run(pair.io, [&]() -> proxy::awaitable<void> {
        while (rest.size() < big.size()) {
            auto [e, m] = co_await server.read_some(chunk.data(), chunk.size());
            if (e) break;
            rest.append(chunk.data(), m);
        }
    });
    CHECK(rest == big);
    std::tie(ec, n) = server.try_read(got, sizeof got);
    CHECK(ec == asio::error::would_block);
    CHECK_FALSE(server.has_pending());
    CHECK(tls::io_buffers(server.ssl()).read_ahead_capacity == 0);
    CHECK(::recv(fd, got, sizeof got, MSG_PEEK | MSG_DONTWAIT) < 0);
}

TEST_CASE("engine parts: a TLS connection waiting for its peer holds no flight it sent - and no more than it read") {
    // A client that sends its ClientHello and then nothing keeps the server waiting with its
    // flight sent: nothing of it may stay held. Two short records that arrive together leave
    // the server, once it has read the first, a few dozen bytes read ahead, in an allocation of
    // their size, not a whole read-ahead buffer.
    TlsSetup t;
    auto& pair = t.pair;
    proxy::Connection server(std::move(pair.near));
    server.attach_tls(t.loaded.context("peer").new_server());
    pair.far.non_blocking(true);
    auto client = make_peer_client(t.client_ctx.get());
    SSL_set_fd(client.get(), pair.far.native_handle());
    REQUIRE(SSL_do_handshake(client.get()) == -1);  // the ClientHello, then waits
    bool done = false;
    proxy::error_code server_ec;
    asio::co_spawn(pair.io, [&]() -> proxy::awaitable<void> {
        server_ec = co_await server.handshake();
        done = true;
    }, [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    pair.io.poll();  // the ClientHello read, the flight sent; waiting for the Finished
    REQUIRE_FALSE(done);
    CHECK(tls::io_buffers(server.ssl()).held_capacity == 0);
    CHECK(tls::io_buffers(server.ssl()).read_ahead_capacity == 0);
    int r = 0;
    for (int tries = 0; tries < 100 && (r = SSL_do_handshake(client.get())) != 1; ++tries) {
        REQUIRE(SSL_get_error(client.get(), r) == SSL_ERROR_WANT_READ);
        pair.io.poll();
    }
    REQUIRE(r == 1);
    for (const char* word : {"one", "two"}) REQUIRE(SSL_write(client.get(), word, 3) == 3);
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!done && std::chrono::steady_clock::now() < until) pair.io.run_one_for(100ms);
    REQUIRE(done);
    REQUIRE_FALSE(server_ec);
    CHECK(tls::io_buffers(server.ssl()).held_capacity == 0);
    char got[64];
    for (const char* word : {"one", "two"}) {
        proxy::error_code ec;
        std::size_t n = 0;
        pair.io.restart();
        std::tie(ec, n) = read_waiting(pair.io, server, got, sizeof got);
        REQUIRE_FALSE(ec);
        CHECK(std::string(got, n) == word);
#if defined(WARD_TLS_WOLFSSL)
        if (std::string_view(word) == "one") {  // the second record read with the first
            const auto held = tls::io_buffers(server.ssl());
            CHECK(held.read_ahead > 0);
            // (What the read brought beyond the first record's header: both records are 50 bytes.)
            CHECK(held.read_ahead_capacity <= 50);
        }
#endif
    }
    auto [ec, n] = server.try_read(got, sizeof got);
    CHECK(ec == asio::error::would_block);
    CHECK(tls::io_buffers(server.ssl()).read_ahead_capacity == 0);
}

TEST_CASE("engine parts: reads and writes on a TLS connection closed under them never touch the descriptor's next owner") {
    TlsSetup t;
    auto& pair = t.pair;
    pair.near.set_option(asio::socket_base::send_buffer_size(4096));
    proxy::Connection server(std::move(pair.near));
    proxy::Connection client(std::move(pair.far));
    secure(t, server, client);
    // The client reads nothing and the socket is full: the first write blocks in the socket
    // (its record pending in OpenSSL), the second, longer one waits for the first.
    {
        const std::string filler(16 * 1024, 'f');
        while (::send(server.socket().native_handle(), filler.data(), filler.size(), MSG_DONTWAIT) > 0) {
        }
    }
    const std::string big = "first";
    const std::string second(64 * 1024, 's');
    int finished = 0;
    auto write = [&](const std::string& bytes) {
        asio::co_spawn(pair.io, [&]() -> proxy::awaitable<void> {
            const auto failed = co_await server.write_all(bytes.data(), bytes.size());
            CHECK(failed);
            ++finished;
        }, [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    };
    write(big);
    write(second);
    pair.io.poll();
    REQUIRE(finished == 0);
    // The session closes the connection; its descriptor's number goes to another socket at once.
    int other[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, other) == 0);
    const int number = server.socket().native_handle();
    server.close();
    REQUIRE(::dup2(other[0], number) == number);
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (finished < 2 && std::chrono::steady_clock::now() < until) pair.io.run_one_for(100ms);
    CHECK(finished == 2);
    char got[64];
    CHECK(::recv(other[1], got, sizeof got, MSG_DONTWAIT) < 0);  // nothing written into it
    // Nor read from it: the new owner's bytes stay where they are.
    REQUIRE(::send(other[1], "hello", 5, 0) == 5);
    auto [ec, n] = server.try_read(got, sizeof got);
    CHECK(ec);
    CHECK(n == 0);
    CHECK(::recv(number, got, sizeof got, MSG_DONTWAIT | MSG_PEEK) == 5);
    ::close(number);
    ::close(other[0]);
    ::close(other[1]);
}

namespace {

// Sets `flag` once `c` is ready for what `code` waits on.
proxy::awaitable<void> flag_when_ready(proxy::Connection& c, proxy::error_code code, bool& flag) {
    const auto failed = co_await c.wait_for(code);
    flag = !failed;
}

}  // namespace

TEST_CASE("engine parts: want_write waits for room to write - would_block for something to read") {
    // (OpenSSL 3.0 answers a peer's KeyUpdate at the next write, not inside SSL_read, so a read
    // that must write first cannot be provoked from outside; the mapping's other half, the wait
    // each code stands for, is what the relay relies on.)
    SocketPair pair;
    pair.near.set_option(asio::socket_base::send_buffer_size(4096));
    pair.near.non_blocking(true);
    const int fd = pair.near.native_handle();
    proxy::Connection c(std::move(pair.near));
    const std::string chunk(16 * 1024, 'x');
    std::size_t queued = 0;
    for (;;) {
        const auto n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
        if (n < 0) break;
        queued += static_cast<std::size_t>(n);
    }
    REQUIRE(queued > 0);
    bool writable = false, readable = false;
    auto wait = [&](proxy::error_code code, bool& flag) {
        asio::co_spawn(pair.io, flag_when_ready(c, code, flag), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    };
    wait(proxy::make_error_code(proxy::Errc::want_write), writable);
    wait(asio::error::would_block, readable);
    pair.io.poll();
    CHECK_FALSE(writable);  // the send buffer is full
    CHECK_FALSE(readable);  // nothing was sent to us
    // The peer reads what we queued: room to write.
    std::vector<char> sink(64 * 1024);
    std::size_t drained = 0;
    while (drained < queued) {
        const auto n = ::recv(pair.far.native_handle(), sink.data(), sink.size(), 0);
        REQUIRE(n > 0);
        drained += static_cast<std::size_t>(n);
    }
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!writable && std::chrono::steady_clock::now() < until) pair.io.run_one_for(100ms);
    CHECK(writable);
    CHECK_FALSE(readable);
    // The peer writes: something to read.
    REQUIRE(::send(pair.far.native_handle(), "r", 1, 0) == 1);
    while (!readable && std::chrono::steady_clock::now() < until) pair.io.run_one_for(100ms);
    CHECK(readable);
}

namespace {

// A filter of the test's own, per line: "ping" is answered to the sender and not forwarded,
// "drop" is swallowed, "throw" throws, "bye" closes the session, anything else is forwarded
// upper-cased; an unfinished line is a message in progress, with a short message timeout.
class LineFilter final : public proxy::StreamFilter {
public:
    Output feed(const char* data, std::size_t size) override {
        Output out;
        if (data) pending_.append(data, size);
        for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n')) {
            auto line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            if (line == "ping") {
                out.reply += "pong\n";
            } else if (line == "drop") {
            } else if (line == "throw") {
                throw std::runtime_error("the test's filter threw");
            } else if (line == "bye") {
                out.close = true;
                out.reason = "said bye";
                break;
            } else {
                for (auto& ch : line) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                out.forward += line + "\n";
            }
        }
        out.mid_message = !pending_.empty();
        return out;
    }
    std::chrono::milliseconds message_timeout() const override { return 300ms; }

private:
    std::string pending_;
};

proxy::awaitable<void> serve_lines(proxy::Session& session) {
    const bool ready = co_await session.tls_and_backend();
    if (!ready) co_return;
    session.set_filters(std::make_unique<LineFilter>());
    co_await session.relay();
}

struct PumpSetup {
    TempDir dir{"engine-parts"};
    TestPki pki{dir.path()};
    TcpBackend backend{TcpBackend::Mode::capture};
    std::unique_ptr<RunningWard> ward;
    tls::UniqueSslCtx ctx;
    std::shared_ptr<const proxy::Front> real_tls_front;
    PumpSetup() {
        proxy::register_fronts();
        real_tls_front = proxy::front_for(config::Protocol::tls);
        proxy::register_front(config::Protocol::tls, proxy::make_front(&serve_lines));
        write_text_file(dir.path() / "ward.yaml",
                        "certificates: { server: { cert: server.pem, key: server.key } }\n"
                        "tls_contexts: { in: { certificate: server, verify_peer: none } }\n"
                        "metrics: { enabled: false }\nworkers: 1\n"
                        "listeners:\n"
                        "  - { name: lines, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                            backend.endpoint() + "'], tls_context: in }\n");
        ward = std::make_unique<RunningWard>(dir.path() / "ward.yaml", /*register_fronts=*/false);
        ctx = make_peer_ctx(client_options(pki));
    }
    // The real front back for whatever this process runs next.
    ~PumpSetup() { proxy::register_front(config::Protocol::tls, real_tls_front); }
};

}  // namespace

TEST_CASE("engine parts: the relay forwards what its filter forwards - answers the sender - and closes when told") {
    PumpSetup s;
    TlsClient client(s.ward->port("lines"), s.ctx.get());
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("hello\npi"));
    REQUIRE(client.send("ng\nworld\n"));
    CHECK(client.read(5) == "pong\n");
    CHECK(s.backend.wait_until([&] { return s.backend.received() == "HELLO\nWORLD\n"; }));
    // The backend's direction has no filter: bytes pass as they are.
    REQUIRE(s.backend.send("as is\n"));
    CHECK(client.read(6) == "as is\n");
    REQUIRE(client.send("bye\nnever\n"));
    CHECK(client.wait_closed());
    CHECK(s.backend.wait_until([&] { return s.backend.peer_closed(); }));
    CHECK(s.backend.received() == "HELLO\nWORLD\n");
}

TEST_CASE("engine parts: a message the filter sees started and not finished times out at the filter's deadline") {
    PumpSetup s;
    TlsClient client(s.ward->port("lines"), s.ctx.get());
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("half a li"));
    const auto begin = std::chrono::steady_clock::now();
    CHECK(client.wait_closed(10s));
    const auto waited = std::chrono::steady_clock::now() - begin;
    CHECK(waited >= 250ms);
    CHECK(waited < 5s);  // the idle timeout is 5 minutes: only the message deadline ends it
    CHECK(s.backend.received().empty());
}

namespace {

// The session log's lines while it is attached: attached before ward's workers start, detached
// after they stopped.
class SessionLines final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // Waits until a line holds `needle`.
    bool wait_for(const std::string& needle, std::chrono::milliseconds deadline) {
        std::unique_lock lock(mutex_);
        return seen_.wait_for(lock, deadline, [&] { return text_.find(needle) != std::string::npos; });
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        text_.append(msg.payload.data(), msg.payload.size());
        text_ += '\n';
        seen_.notify_all();
    }
    void flush_() override {}

private:
    std::string text_;
    std::condition_variable_any seen_;
};

}  // namespace

TEST_CASE("engine parts: a filter that throws ends its session as any end does - its summary line - and the worker serves on") {
    auto lines = std::make_shared<SessionLines>();
    auto& sinks = proxy::session_log().sinks();
    sinks.push_back(lines);
    {
        PumpSetup s;
        TlsClient client(s.ward->port("lines"), s.ctx.get());
        REQUIRE_MESSAGE(client.ok(), client.error());
        REQUIRE(client.send("hello\n"));
        REQUIRE(s.backend.wait_until([&] { return s.backend.received() == "HELLO\n"; }));
        REQUIRE(client.send("throw\nnever\n"));
        CHECK(client.wait_closed());
        CHECK(s.backend.wait_until([&] { return s.backend.peer_closed(); }));
        CHECK(s.backend.received() == "HELLO\n");
        // The summary line says why (it was missing when the client's direction threw).
        CHECK(lines->wait_for("internal error", 10s));
        CHECK(lines->wait_for("relay from the client failed: the test's filter threw", 10s));
        TlsClient next(s.ward->port("lines"), s.ctx.get());
        REQUIRE_MESSAGE(next.ok(), next.error());
        REQUIRE(next.send("ping\n"));
        CHECK(next.read(5) == "pong\n");
    }
    sinks.erase(std::remove(sinks.begin(), sinks.end(), lines), sinks.end());
}

TEST_CASE("engine parts: input a filter swallows does not keep the worker from its other sessions") {
    // One worker. A client streams lines the filter swallows, faster than the filter takes them,
    // so its socket is never found empty; another client's line must still reach the backend
    // while the stream goes on (the relay yields after so many bytes read, forwarded or not).
    PumpSetup s;
    TlsClient other(s.ward->port("lines"), s.ctx.get());
    REQUIRE_MESSAGE(other.ok(), other.error());
    std::string chunk;
    while (chunk.size() < 16 * 1024) chunk += "drop\n";
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> flooded{0};
    std::atomic<bool> flooder_failed{false};
    // The flooding client lives on its thread: a TLS connection is used on the thread that
    // made it (ward's wolfSSL refuses any other).
    std::thread flood([&] {
        TlsClient flooder(s.ward->port("lines"), s.ctx.get());
        if (!flooder.ok()) {
            flooder_failed = true;
            return;
        }
        while (!stop && flooded < 256ull * 1024 * 1024 && flooder.send(chunk)) flooded += chunk.size();
    });
    // Well into the stream (ward has more than the yield threshold queued).
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (flooded < 1024 * 1024 && !flooder_failed && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    const bool sent = other.send("served\n");
    const bool served = s.backend.wait_until([&] { return s.backend.received().find("SERVED\n") != std::string::npos; }, 5s);
    const auto flooded_then = flooded.load();
    stop = true;
    flood.join();
    REQUIRE_FALSE(flooder_failed);
    REQUIRE(sent);
    CHECK(served);
    CHECK_MESSAGE(flooded_then >= 1024 * 1024, "the stream did not get going");
}
