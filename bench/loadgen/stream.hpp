// SPDX-License-Identifier: Apache-2.0
#pragma once
// One client connection: a TCP socket, with TLS once an SSL is attached. OpenSSL reads and
// writes the non-blocking descriptor itself through a socket BIO, and Asio only waits for
// readiness after SSL_ERROR_WANT_READ/WRITE (or EAGAIN without TLS), as ward's own
// Connection does: no buffers of our own between OpenSSL and the kernel, no copies, and an
// operation that can finish at once never touches the event loop. The same calls run with
// and without TLS, so `latency --plain` measures the same code path as the TLS run.
//
// Timeouts come from the worker's Watchdog sweep, not from a timer per operation: a stream
// whose waits have made no progress for its timeout is cancelled by the next sweep.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "bench/loadgen/asio.hpp"
#include "bench/loadgen/openssl_ptr.hpp"

namespace ward::loadgen {

class Watchdog;

enum class Outcome : std::uint8_t {
    ok,
    closed,       // the peer ended its side: close_notify, or TCP EOF (peer_close_notify() tells)
    interrupted,  // interrupt(): the worker is stopping; the stream stays usable (e.g. to close)
    failed,       // an error or a timeout, in failure(); the stream is no longer usable
};

enum class CloseResult : std::uint8_t {
    close_notify,  // the peer answered with close_notify (TLS) or FIN (plain)
    eof,           // the peer closed TCP without close_notify
    tls_error,     // the peer's TLS failed it (an alert): in TLS 1.3 a refused client
                   // certificate arrives after the client's handshake is done, and shows here
    error,         // reset or other socket error while closing
    timeout,       // the peer did not close within the linger time
    aborted,       // nothing to close gracefully: the stream had failed (or never connected)
};

class Stream {
public:
    using Clock = std::chrono::steady_clock;

    // timeout: a wait that sees no progress for this long fails (0: never).
    Stream(asio::io_context& io, Watchdog& watchdog, Clock::duration timeout);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Opens a non-blocking TCP_NODELAY socket and connects it.
    // `from`: the local address to connect from (any port).
    awaitable<Outcome> connect(const tcp::endpoint& target, const std::string& from = {});

    // Attaches TLS (a client SSL); from now on reads and writes go through it.
    void attach_tls(UniqueSsl ssl);
    SSL* ssl() const { return ssl_.get(); }

    awaitable<Outcome> handshake();
    awaitable<Outcome> write_all(const void* data, std::size_t size);
    // At least one byte into data[0, size), count in `got`.
    awaitable<Outcome> read_some(void* data, std::size_t size, std::size_t& got);
    awaitable<Outcome> read_exact(void* data, std::size_t size);
    // Writes request[0, size), then reads `size` bytes of reply (an echo).
    awaitable<Outcome> exchange(const void* request, void* reply, std::size_t size);

    // Ends our sending side: close_notify (TLS), then FIN. Reading stays open.
    awaitable<Outcome> shutdown_send();
    // Reads and drops everything until the peer closes (OpenSSL processes any session
    // tickets on the way), within the current timeout.
    awaitable<CloseResult> drain();
    // Reads and drops incoming data until done() holds, checking after every record: for
    // waiting on a TLS 1.3 NewSessionTicket, which comes after the handshake and carries no
    // application data.
    awaitable<Outcome> read_until(const std::function<bool()>& done);
    // shutdown_send, drain for at most `linger`, close.
    awaitable<CloseResult> close_gracefully(Clock::duration linger);
    void close();

    void set_timeout(Clock::duration timeout) { timeout_ = timeout; }
    // Wakes any wait with Outcome::interrupted, and makes later waits return it at once until
    // close_gracefully. For stopping idle connections.
    void interrupt();

    bool usable() const { return socket_.is_open() && !failed_; }
    bool peer_close_notify() const { return peer_close_notify_; }
    const std::string& failure() const { return failure_; }

private:
    friend class Watchdog;
    enum class Step : std::uint8_t { done, want_read, want_write, closed, failed };
    enum class Wait : std::uint8_t { ready, interrupted, failed };

    awaitable<Wait> wait(tcp::socket::wait_type type, const char* what);
    Step classify_tls(int ret, int saved_errno, const char* what);
    Step read_once(void* data, std::size_t size, std::size_t& got);
    void fail(const char* what, std::string_view why);
    void touch() { last_progress_ = Clock::now(); }

    tcp::socket socket_;  // declared before ssl_: the SSL goes first, then the descriptor
    UniqueSsl ssl_;
    Watchdog& watchdog_;
    Stream* prev_ = nullptr;  // the watchdog's list
    Stream* next_ = nullptr;
    Clock::time_point last_progress_;
    Clock::duration timeout_;
    int waiting_ = 0;
    bool timed_out_ = false;
    bool interrupted_ = false;
    bool failed_ = false;
    bool tls_failed_ = false;  // failed_ by a TLS error (not a socket error or timeout)
    bool peer_closed_ = false;
    bool peer_close_notify_ = false;
    std::string failure_;
};

// The streams of one worker, swept periodically for timeouts. Single-threaded, like the
// worker it belongs to.
class Watchdog {
public:
    void add(Stream& s);
    void remove(Stream& s);
    // Cancels the waits of every stream that has been waiting without progress for longer
    // than its timeout.
    void sweep(Stream::Clock::time_point now);
    void interrupt_all();
    std::size_t size() const { return size_; }

private:
    Stream* head_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace ward::loadgen
