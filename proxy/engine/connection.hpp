// SPDX-License-Identifier: Apache-2.0
#pragma once
// One side of a session: a TCP socket, with TLS when an SSL is attached. OpenSSL reads and
// writes the socket itself (a socket BIO on the non-blocking descriptor) and Asio only waits
// for readiness (async_wait on SSL_ERROR_WANT_*), as HAProxy and nginx do: no buffers of our
// own, no copy through a BIO pair, and with SSL_MODE_RELEASE_BUFFERS nothing held while idle.
// (wolfSSL, which reads a record in two reads, gets a receive of ward's that reads ahead into a
// buffer held only while it has bytes: tls/socket_io.hpp.)
#include <cstdint>
#include <string>
#include <utility>

#include "proxy/engine/asio.hpp"
#include "proxy/engine/errors.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::proxy {

class Connection {
public:
    explicit Connection(tcp::socket socket);
    Connection(Connection&&) = default;
    Connection& operator=(Connection&&) = default;

    // Sets the socket options ward relies on (non-blocking, no delay); the constructor does it
    // for accepted sockets, call it after an outbound connect.
    void on_connected();

    // Connects the open, non-blocking socket. A loopback backend has usually accepted before
    // connect() returns (the kernel completes the handshake as the call ends), so a second
    // connect() asks (EISCONN) before waiting: two system calls, where Asio's async_connect
    // makes four (connect, EPOLLOUT armed, poll, SO_ERROR) and a trip through the event loop.
    // Cancelled by close(), as any wait on the socket.
    awaitable<error_code> connect(const tcp::endpoint& to);

    // Attaches TLS (a server or client SSL made from a tls::Context).
    void attach_tls(tls::UniqueSsl ssl);
    bool is_tls() const { return ssl_ != nullptr; }
    SSL* ssl() const { return ssl_.get(); }
    // Bytes the TLS layer holds that a read would return without the socket (tls::has_pending).
    bool has_pending() const;
    tcp::socket& socket() { return socket_; }

    // TLS handshake (either role). On failure, tls_error() says why.
    awaitable<error_code> handshake();

    // Reads what is there without waiting: (ec, n) with n >= 1, or asio::error::would_block
    // when nothing is, or Errc::want_write when TLS must write before it can read; either way,
    // must_wait(ec) is true and wait_for(ec) waits for the right readiness. asio::error::eof at
    // the end of the stream; for TLS, clean_eof() tells whether the peer sent close_notify.
    //
    // Readiness is edge-triggered: only a read that found the socket empty guarantees that
    // wait_for() will wake again, so callers read first and wait only after would_block.
    //
    // A read that left the socket empty (fewer bytes than it asked for) is not followed by one
    // that would find nothing: the next try_read says would_block without a system call, once.
    // That is safe because wait_for() is Asio's async_wait, which re-arms the descriptor
    // (EPOLL_CTL_MOD) and so wakes at once for bytes that came meanwhile. The same holds for a
    // backend just connected (it has not been sent anything yet) and, in the wolfSSL flavour, for
    // the TLS layer's reads (tls::ReadHint).
    std::pair<error_code, std::size_t> try_read(void* data, std::size_t size);
    static bool must_wait(const error_code& ec) {
        return ec == asio::error::would_block || ec == make_error_code(Errc::want_write);
    }
    // For an error must_wait() accepts, the matching readiness wait; its error, if any.
    awaitable<error_code> wait_for(error_code ec);
    // The same wait with a plain completion handler, void(error_code): what a relay that is
    // not a coroutine holds while it waits (no frame; see Session::pump_plain).
    template <class Handler>
    void async_wait_for(error_code ec, Handler&& handler) {
        socket_.async_wait(wait_type(ec), std::forward<Handler>(handler));
    }
    // try_read, waiting as needed: (error, bytes) with bytes >= 1, or eof at the end.
    awaitable<std::pair<error_code, std::size_t>> read_some(void* data, std::size_t size);

    // Writes everything. Writes on one connection are serialised (two directions of a session
    // may both write to the same peer).
    awaitable<error_code> write_all(const void* data, std::size_t size);
    // Writes what the socket takes now, without waiting, when no other write is in progress.
    // No error: all `size` bytes written. in_progress: another write holds the connection,
    // nothing was written (write_all waits for it). must_wait(): `written` bytes are out and
    // the connection's writes stay held for this writer, which must go on with
    // write_rest(data, size, written, that error) (TLS requires the rest to be offered as it
    // was): it waits for the readiness the error names, then writes. Any other error: the write
    // failed.
    error_code try_write(const void* data, std::size_t size, std::size_t& written);
    // (write_all's own rest too, once it holds the lock: write_rest gives the lock back however it
    // ends.)
    awaitable<error_code> write_rest(const void* data, std::size_t size, std::size_t written,
                                     error_code wait_first = {});

    // Ends our sending direction, after any write in progress: close_notify for TLS, FIN for
    // TCP. Reading stays open.
    awaitable<void> shutdown_send();

    // After shutdown_send: sends FIN (after TLS's close_notify), then reads and drops what the
    // peer still sends, until it closes, `limit` bytes were dropped, an error, or close().
    awaitable<void> drain(std::size_t limit);

    void close();
    bool is_open() const { return socket_.is_open(); }
    bool clean_eof() const { return clean_eof_; }
    const std::string& tls_error() const { return tls_error_; }

private:
    // An SSL call's failure as an error code: would_block / Errc::want_write when it must wait
    // for the socket to be readable / writable, eof at the end of the stream (clean_eof_ set on
    // close_notify; a peer that vanishes is eof too), tls_failure otherwise (tls_error_ says why).
    error_code ssl_failure(int ret, const char* what);
    // The rest of a flush of held writes (tls::flush_writes) that ended with errno err: waits
    // for room while the socket is full.
    awaitable<error_code> finish_flush(int err);
    // The readiness wait_for(ec) waits for; a read wait clears read_drained_ (its completion
    // says readable: the next read reads).
    tcp::socket::wait_type wait_type(const error_code& ec);
    // Writes from data[written] on without waiting, the connection's writes held by the caller:
    // as try_write, `written` advanced by what went out.
    error_code write_now(const char* data, std::size_t size, std::size_t& written);
    // Waits for this connection's writes to be ours; false when it was closed meanwhile (close()
    // wakes the waiters). WriteLock gives the writes back however the writer leaves.
    awaitable<bool> lock_writes();
    void unlock_writes();
    struct WriteLock {
        Connection* c;
        ~WriteLock() { c->unlock_writes(); }
    };

    tcp::socket socket_;
    tls::UniqueSsl ssl_;
    std::string tls_error_;
    bool clean_eof_ = false;
    bool read_drained_ = false;  // the last read left the socket empty: skip the next one
    bool send_shut_ = false;
    bool writing_ = false;
    std::unique_ptr<asio::steady_timer> write_waiters_;  // made on first contention
};

}  // namespace ward::proxy
