#pragma once
// One side of a session: a TCP socket, with TLS when an SSL is attached. OpenSSL reads and
// writes the socket itself (a socket BIO on the non-blocking descriptor) and Asio only waits
// for readiness (async_wait on SSL_ERROR_WANT_*), as HAProxy and nginx do: no buffers of our
// own, no copy through a BIO pair, and with SSL_MODE_RELEASE_BUFFERS nothing held while idle.
#include <cstdint>
#include <string>
#include <utility>

#include "proxy/asio.hpp"
#include "proxy/errors.hpp"
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

    // Attaches TLS (a server or client SSL made from a tls::Context).
    void attach_tls(tls::UniqueSsl ssl);
    bool is_tls() const { return ssl_ != nullptr; }
    SSL* ssl() const { return ssl_.get(); }
    tcp::socket& socket() { return socket_; }

    // TLS handshake (either role). On failure, tls_error() says why.
    awaitable<error_code> handshake();

    // Reads what is there without waiting: (ec, n) with n >= 1, or asio::error::would_block
    // when nothing is (then wait_readable()), or asio::error::try_again when TLS must write
    // before it can read (then wait_writable()). asio::error::eof at the end of the stream; for
    // TLS, clean_eof() tells whether the peer sent close_notify.
    //
    // Readiness is edge-triggered: only a read that found the socket empty guarantees that
    // wait_readable() will wake again, so callers read first and wait only after would_block.
    std::pair<error_code, std::size_t> try_read(void* data, std::size_t size);
    awaitable<error_code> wait_readable();
    awaitable<error_code> wait_writable();

    // try_read, waiting as needed until at least one byte or the end.
    awaitable<std::pair<error_code, std::size_t>> read_some(void* data, std::size_t size);

    // Writes everything. Writes on one connection are serialised (two directions of a session
    // may both write to the same peer).
    awaitable<error_code> write_all(const void* data, std::size_t size);

    // Ends our sending direction: close_notify for TLS, FIN for TCP. Reading stays open.
    awaitable<void> shutdown_send();

    void close();
    bool is_open() const { return socket_.is_open(); }
    bool clean_eof() const { return clean_eof_; }
    const std::string& tls_error() const { return tls_error_; }

private:
    // What to do after an SSL call returned `ret`: 0 = done, 1 = retry after waiting (ec set
    // on a failed wait), -1 = failure (ec set).
    awaitable<int> after_ssl_call(int ret, const char* what, error_code& ec);
    awaitable<void> lock_writes();
    void unlock_writes();

    tcp::socket socket_;
    tls::UniqueSsl ssl_;
    std::string tls_error_;
    bool clean_eof_ = false;
    bool send_shut_ = false;
    bool writing_ = false;
    std::unique_ptr<asio::steady_timer> write_waiters_;  // made on first contention
};

}  // namespace ward::proxy
