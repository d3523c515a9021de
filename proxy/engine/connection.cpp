// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/connection.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <openssl/err.h>

#include "tls/openssl_error.hpp"
#include "tls/socket_io.hpp"

namespace ward::proxy {

Connection::Connection(tcp::socket socket) : socket_(std::move(socket)) {
    if (socket_.is_open()) on_connected();
}

void Connection::on_connected() {
    error_code ec;
    // The user-level flag makes the descriptor non-blocking (one ioctl) for OpenSSL, which
    // reads and writes it itself, and counts as non-blocking for Asio's own asynchronous
    // operations (which would otherwise make it so at their first wait). ward's own reads and
    // writes ask MSG_DONTWAIT.
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    socket_.set_option(tcp::no_delay(true), ec);
}

awaitable<error_code> Connection::connect(const tcp::endpoint& to) {
    // Never a blocking connect(): it would hold the worker until the kernel gives up.
    if (!socket_.is_open() || !socket_.non_blocking()) co_return asio::error::bad_descriptor;
    const int fd = socket_.native_handle();
    // (The backend has been sent nothing yet: its first read waits instead of finding nothing.)
    if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) == 0) {
        read_drained_ = true;
        co_return error_code{};
    }
    int err = errno;
    if (err == EINPROGRESS) {
        if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) == 0 || errno == EISCONN) {
            read_drained_ = true;
            co_return error_code{};
        }
        err = errno;
        if (err == EALREADY || err == EINPROGRESS) {
            auto [wec] = co_await socket_.async_wait(tcp::socket::wait_write, use_tuple);
            if (wec) co_return wec;
            if (!socket_.is_open()) co_return asio::error::operation_aborted;
            int so_error = 0;
            socklen_t len = sizeof so_error;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
            co_return error_code(so_error, asio::error::get_system_category());
        }
    }
    co_return error_code(err, asio::error::get_system_category());
}

void Connection::attach_tls(tls::UniqueSsl ssl) {
    ssl_ = std::move(ssl);
    if (!ssl_) {
        // No TLS state could be made: the connection must never carry a byte in the clear.
        tls_error_ = tls::openssl_error("cannot make a TLS connection state");
        error_code ec;
        socket_.close(ec);
        return;
    }
    tls::attach_socket(ssl_.get(), socket_.native_handle());
    read_drained_ = false;  // (what the plaintext's last read found says nothing of TLS's)
}

bool Connection::has_pending() const { return ssl_ && tls::has_pending(ssl_.get()); }

error_code Connection::ssl_failure(int ret, const char* what) {
    switch (SSL_get_error(ssl_.get(), ret)) {
        case SSL_ERROR_WANT_READ: return asio::error::would_block;
        case SSL_ERROR_WANT_WRITE: return make_error_code(Errc::want_write);
        case SSL_ERROR_ZERO_RETURN:
            clean_eof_ = true;
            return asio::error::eof;
        case SSL_ERROR_SYSCALL:
            tls::clear_openssl_errors();
            // errno 0: the peer closed the TCP connection without a TLS alert.
            return errno ? error_code(errno, boost::system::system_category()) : error_code(asio::error::eof);
        default: {
            const unsigned long e = ERR_peek_error();
            if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                // A peer that vanishes without close_notify: a normal close, not an error.
                tls::clear_openssl_errors();
                return asio::error::eof;
            }
            tls_error_ = tls::openssl_error(what);
            return make_error_code(Errc::tls_failure);
        }
    }
}

tcp::socket::wait_type Connection::wait_type(const error_code& ec) {
    if (ec == make_error_code(Errc::want_write)) return tcp::socket::wait_write;
    read_drained_ = false;
    return tcp::socket::wait_read;
}

awaitable<error_code> Connection::wait_for(error_code ec) {
    auto [wec] = co_await socket_.async_wait(wait_type(ec), use_tuple);
    co_return wec;
}

awaitable<std::pair<error_code, std::size_t>> Connection::read_some(void* data, std::size_t size) {
    for (;;) {
        auto [ec, n] = try_read(data, size);
        if (!must_wait(ec)) co_return std::pair{ec, n};
        if (const auto wec = co_await wait_for(ec)) co_return std::pair{wec, std::size_t{0}};
    }
}

awaitable<error_code> Connection::finish_flush(int err) {
    for (;;) {
        if (err == 0) co_return error_code{};
        if (err != EAGAIN && err != EWOULDBLOCK) co_return error_code(err, boost::system::system_category());
        auto [wec] = co_await socket_.async_wait(tcp::socket::wait_write, use_tuple);
        if (wec) co_return wec;
        if (!socket_.is_open()) co_return asio::error::bad_descriptor;  // (see try_read)
        err = tls::flush_writes(ssl_.get());
    }
}

awaitable<error_code> Connection::handshake() {
    if (!ssl_) co_return make_error_code(Errc::tls_handshake_failed);
    // Each step's output (a server's whole flight) goes out in one send; holding ends with the
    // handshake, however it ends. (A frame destroyed unresumed leaves the held bytes to the SSL,
    // which frees them.)
    tls::hold_writes(ssl_.get());
    const auto done = [this](error_code ec) {
        tls::release_writes(ssl_.get());
        return ec;
    };
    for (;;) {
        if (!socket_.is_open()) co_return done(asio::error::bad_descriptor);
        ERR_clear_error();
        const int r = [&] {
            const tls::ReadHint hint(read_drained_);
            return SSL_do_handshake(ssl_.get());
        }();
        // (The failure is read before the flush: it reads errno and the error queue.)
        const auto ec = r == 1 ? error_code{} : ssl_failure(r, "TLS handshake");
        // What the step wrote goes out also when it failed: its alert, and whatever came before
        // (a scanner that offers a key share it cannot use still sees the ServerHello it asked
        // about). The handshake's own failure is the one reported.
        error_code flushed;
        if (const int err = tls::flush_writes(ssl_.get())) flushed = co_await finish_flush(err);
        if (r == 1) co_return done(flushed);
        if (must_wait(ec)) {
            if (flushed) co_return done(flushed);
            if (auto wec = co_await wait_for(ec)) co_return done(wec);
            continue;
        }
        co_return done(ec == make_error_code(Errc::tls_failure) ? make_error_code(Errc::tls_handshake_failed) : ec);
    }
}

std::pair<error_code, std::size_t> Connection::try_read(void* data, std::size_t size) {
    error_code ec;
    // Once closed, the descriptor's number may already belong to another connection, and
    // OpenSSL's BIO still holds it: nothing may reach OpenSSL any more.
    if (!socket_.is_open()) return {asio::error::bad_descriptor, 0};
    if (!ssl_) {
        if (size == 0) return {ec, 0};
        if (read_drained_) {
            read_drained_ = false;
            return {asio::error::would_block, 0};
        }
        ssize_t n = 0;
        do n = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
            read_drained_ = static_cast<std::size_t>(n) < size;
            return {ec, static_cast<std::size_t>(n)};
        }
        if (n == 0) return {asio::error::eof, 0};
        return {error_code(errno, asio::error::get_system_category()), 0};  // would_block when empty
    }
    ERR_clear_error();
    std::size_t n = 0;
    const tls::ReadHint hint(read_drained_);
    if (SSL_read_ex(ssl_.get(), data, size, &n) == 1) return {ec, n};
    return {ssl_failure(0, "TLS read"), 0};
}

awaitable<bool> Connection::lock_writes() {
    for (;;) {
        if (!socket_.is_open()) co_return false;
        if (!writing_) break;
        if (!write_waiters_) {
            write_waiters_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
            write_waiters_->expires_at(asio::steady_timer::time_point::max());
        }
        // Woken by unlock_writes or close() cancelling the timer.
        co_await write_waiters_->async_wait(use_tuple);
    }
    writing_ = true;
    co_return true;
}

void Connection::unlock_writes() {
    writing_ = false;
    if (write_waiters_) write_waiters_->cancel();
}

awaitable<error_code> Connection::write_all(const void* data, std::size_t size) {
    if (size == 0) co_return error_code{};  // (nothing to wait for, even on a closed connection)
    if (!co_await lock_writes()) co_return asio::error::bad_descriptor;
    const auto ec = co_await write_rest(data, size, 0);
    co_return ec;
}

error_code Connection::try_write(const void* data, std::size_t size, std::size_t& written) {
    written = 0;
    if (size == 0) return {};
    if (writing_) return asio::error::in_progress;
    if (!socket_.is_open()) return asio::error::bad_descriptor;  // (see try_read)
    writing_ = true;
    const auto ec = write_now(static_cast<const char*>(data), size, written);
    if (!must_wait(ec)) unlock_writes();  // (held for write_rest otherwise)
    return ec;
}

error_code Connection::write_now(const char* data, std::size_t size, std::size_t& written) {
    while (written < size) {
        const char* p = data + written;
        const std::size_t left = size - written;
        if (!ssl_) {
            const ssize_t n = ::send(socket_.native_handle(), p, left, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0) {
                written += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return make_error_code(Errc::want_write);
            return error_code(errno, asio::error::get_system_category());
        }
        ERR_clear_error();
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl_.get(), p, left, &n);
        if (r != 1) return ssl_failure(r, "TLS write");  // (on WANT_*, TLS needs the same bytes again)
        written += n;
    }
    return {};
}

awaitable<error_code> Connection::write_rest(const void* data, std::size_t size, std::size_t written,
                                             error_code wait_first) {
    // (The caller holds the connection's writes: write_all's lock, or try_write's.)
    const WriteLock held{this};
    if (must_wait(wait_first)) {
        if (const auto wec = co_await wait_for(wait_first)) co_return wec;
    }
    for (;;) {
        // Closed while this write waited for the lock or the socket (see try_read).
        if (!socket_.is_open()) co_return asio::error::bad_descriptor;
        const auto ec = write_now(static_cast<const char*>(data), size, written);
        if (!must_wait(ec)) co_return ec;
        if (const auto wec = co_await wait_for(ec)) co_return wec;
    }
}

awaitable<void> Connection::shutdown_send() {
    if (send_shut_ || !socket_.is_open()) co_return;
    send_shut_ = true;
    // After the write in progress, if any: a FIN in the middle of it would cut the peer's last
    // message short.
    if (!co_await lock_writes()) co_return;
    const WriteLock held{this};
    error_code ec;
    if (!ssl_) {
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        co_return;
    }
    // Sends close_notify; ward does not wait for the peer's (the read side stays open).
    for (int tries = 0; tries < 8; ++tries) {
        if (!socket_.is_open()) break;  // closed while waiting (see try_read)
        ERR_clear_error();
        const int r = SSL_shutdown(ssl_.get());
        if (r >= 0) break;
        const int err = SSL_get_error(ssl_.get(), r);
        if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) break;
        if (err == SSL_ERROR_WANT_READ) break;  // close_notify already queued and flushed
        auto [e] = co_await socket_.async_wait(tcp::socket::wait_write, use_tuple);
        if (e) break;
    }
    tls::clear_openssl_errors();
}

awaitable<void> Connection::drain(std::size_t limit) {
    if (!socket_.is_open()) co_return;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    // Dropped bytes: one scratch buffer per worker thread, never read back.
    static thread_local char scratch[16 * 1024];
    std::size_t dropped = 0;
    while (socket_.is_open() && dropped < limit) {
        const auto n = ::recv(socket_.native_handle(), scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0) {
            dropped += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) break;  // the peer closed
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) break;
        auto [wec] = co_await socket_.async_wait(tcp::socket::wait_read, use_tuple);
        if (wec) break;
    }
}

void Connection::close() {
    error_code ec;
    socket_.close(ec);
    // Writers waiting for the lock learn it is closed (one that left by an exception has given
    // the lock back already).
    if (write_waiters_) write_waiters_->cancel();
}

}  // namespace ward::proxy
