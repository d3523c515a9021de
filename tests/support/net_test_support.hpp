// SPDX-License-Identifier: Apache-2.0
#pragma once
// Real loopback peers for engine tests: a plaintext TCP backend served by its own threads, a
// blocking TLS client on a real socket, raw TCP connects. Every wait has a deadline; nothing
// sleeps to synchronise (waits are on sockets or on a condition variable).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/err.h>

#include "tls/openssl_ptr.hpp"

namespace ward::test {

using namespace std::chrono_literals;

// A plaintext TCP server on 127.0.0.1, port chosen by the system.
// A loopback port that refuses connections for as long as this lives: bound, so no other test
// running beside takes it (a port bound and closed again can be anyone's a moment later), and
// never listening, so a connect gets a reset.
class RefusingPort {
public:
    RefusingPort();
    ~RefusingPort();
    RefusingPort(const RefusingPort&) = delete;
    RefusingPort& operator=(const RefusingPort&) = delete;
    std::uint16_t port() const { return port_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

class TcpBackend {
public:
    enum class Mode {
        echo,     // sends back what it receives
        capture,  // keeps what it receives, sends nothing (unless told to)
        source,   // sends `source_bytes` (or forever when 0) as fast as the peer takes them
    };
    explicit TcpBackend(Mode mode, std::uint64_t source_bytes = 0);
    ~TcpBackend();
    TcpBackend(const TcpBackend&) = delete;
    TcpBackend& operator=(const TcpBackend&) = delete;

    std::uint16_t port() const { return port_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

    int connections() const;
    std::string received() const;          // everything received, all connections, in order
    std::size_t received_size() const;     // its size, without the copy
    std::uint64_t bytes_sent() const { return sent_.load(); }
    bool peer_closed() const;               // the last connection saw EOF from ward
    // Sends on the most recent connection.
    bool send(std::string_view bytes);
    // Sends what the most recent connection takes without waiting: the bytes sent (0 when its
    // send buffer is full), -1 on an error.
    long send_some(std::string_view bytes);
    // Whether the most recent connection can take more within `deadline`.
    bool writable(std::chrono::milliseconds deadline);
    // Ends the most recent connection both ways (ward sees the close).
    void close_last();
    // Resets the most recent connection (ward sees ECONNRESET, not an end of stream).
    void reset_last();
    // Waits until `predicate` holds (checked after every receive, accept and close) or the
    // deadline passes; returns whether it held.
    bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds deadline = 10s);

private:
    void accept_loop();
    void serve(int fd);

    Mode mode_;
    std::uint64_t source_bytes_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> sent_{0};
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string received_;
    std::vector<int> fds_;
    int connections_ = 0;
    bool peer_closed_ = false;
    std::uint64_t events_ = 0;  // accepts, receives, sends and closes so far (wait_until)
    std::thread acceptor_;
    std::vector<std::thread> servers_;
};

// A connected TCP socket to 127.0.0.1:port (blocking), from `source` (another loopback
// address such as 127.0.0.2) when given; -1 on failure.
int connect_tcp(std::uint16_t port, const char* source = nullptr);

// Whether the peer closed `fd` (EOF or reset) within the deadline; data that arrives first is
// appended to `got` when given.
bool wait_closed(int fd, std::chrono::milliseconds deadline, std::string* got = nullptr);

// Plaintext on a raw socket: sends everything (false on error); reads until `needle` arrived,
// EOF or the deadline, returning what arrived.
bool send_raw(int fd, std::string_view bytes);
std::string read_raw_until(int fd, std::string_view needle, std::chrono::milliseconds deadline = 10s);

// A TLS client on a real socket (OpenSSL, blocking with poll deadlines).
class TlsClient {
public:
    // Connects and handshakes with `ctx`; `sni` goes into the ClientHello when not empty.
    TlsClient(std::uint16_t port, SSL_CTX* ctx, const std::string& sni = "server.test",
              std::chrono::milliseconds deadline = 10s);
    // Takes over a connected socket (STARTTLS: after the plaintext negotiation) and handshakes;
    // `alpn`, when not empty, is the one protocol offered.
    TlsClient(int fd, SSL_CTX* ctx, const std::string& sni, const std::string& alpn,
              std::chrono::milliseconds deadline = 10s);
    // Connects and offers `resume` (a session from an earlier connection) in the handshake.
    TlsClient(std::uint16_t port, SSL_CTX* ctx, SSL_SESSION* resume, const std::string& sni = "server.test");
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    bool ok() const { return ok_; }
    bool resumed() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }
    const std::string& error() const { return error_; }
    SSL* ssl() const { return ssl_.get(); }
    int fd() const { return fd_; }

    bool send(std::string_view bytes);
    // Reads until at least `n` bytes arrived, EOF, or the deadline.
    std::string read(std::size_t n, std::chrono::milliseconds deadline = 10s);
    // Reads until `needle` appears in what arrived, EOF, or the deadline.
    std::string read_until(std::string_view needle, std::chrono::milliseconds deadline = 10s);
    // True when the connection ends (close_notify, EOF or an alert) within the deadline.
    bool wait_closed(std::chrono::milliseconds deadline = 10s, std::string* got = nullptr);
    bool clean_close() const { return clean_close_; }
    // Sends close_notify.
    void shutdown();

private:
    void start(int fd, SSL_CTX* ctx, const std::string& sni, const std::string& alpn, SSL_SESSION* resume,
               std::chrono::milliseconds deadline);
    // One SSL_read with a deadline: >0 bytes, 0 on close, -1 on timeout.
    int read_once(char* buf, int size, std::chrono::steady_clock::time_point until);

    int fd_ = -1;
    tls::UniqueSsl ssl_;
    bool ok_ = false;
    bool clean_close_ = false;
    std::string error_;
};

// A plain OpenSSL TLS echo server on a real socket (one connection at a time), for ward's
// outbound side.
class TlsEchoServer {
public:
    // On 127.0.0.1, or on [::1] with `ipv6`.
    explicit TlsEchoServer(SSL_CTX* ctx, bool ipv6 = false) : ctx_(ctx) {
        fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        sockaddr_in6 a6{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_loopback;
        auto* address = ipv6 ? reinterpret_cast<sockaddr*>(&a6) : reinterpret_cast<sockaddr*>(&a);
        socklen_t len = ipv6 ? sizeof a6 : sizeof a;
        ::bind(fd_, address, len);
        ::listen(fd_, 16);
        ::getsockname(fd_, address, &len);
        port_ = ntohs(ipv6 ? a6.sin6_port : a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~TlsEchoServer() {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }
    std::atomic<int> handshakes_ok{0};
    std::atomic<int> handshakes_failed{0};

private:
    void serve() {
        for (;;) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            timeval tv{5, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            tls::UniqueSsl ssl(SSL_new(ctx_));
            SSL_set_fd(ssl.get(), c);
            if (SSL_accept(ssl.get()) == 1) {
                ++handshakes_ok;
                char buf[4096];
                int n;
                while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) SSL_write(ssl.get(), buf, n);
                SSL_shutdown(ssl.get());
            } else {
                ++handshakes_failed;
            }
            ERR_clear_error();
            ::close(c);
        }
    }
    SSL_CTX* ctx_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};


}  // namespace ward::test
