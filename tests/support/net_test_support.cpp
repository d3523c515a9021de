// SPDX-License-Identifier: Apache-2.0
#include "net_test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <openssl/err.h>

#include "tls/alpn.hpp"

namespace ward::test {

namespace {

int remaining_ms(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool poll_for(int fd, short events, std::chrono::steady_clock::time_point until) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, remaining_ms(until));
        if (n < 0 && errno == EINTR) continue;
        return n > 0;
    }
}

}  // namespace

TcpBackend::TcpBackend(Mode mode, std::uint64_t source_bytes) : mode_(mode), source_bytes_(source_bytes) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 128);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

TcpBackend::~TcpBackend() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : servers_)
        if (t.joinable()) t.join();
    ::close(listen_fd_);
    for (int fd : fds_) ::close(fd);
}

void TcpBackend::accept_loop() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return;  // shut down
        }
        if (stopping_) {
            ::close(fd);
            return;
        }
        {
            std::lock_guard lock(mutex_);
            fds_.push_back(fd);
            ++connections_;
            peer_closed_ = false;
            ++events_;
        }
        changed_.notify_all();
        servers_.emplace_back([this, fd] { serve(fd); });
    }
}

void TcpBackend::serve(int fd) {
    if (mode_ == Mode::source) {
        std::string chunk(64 * 1024, 'x');
        std::uint64_t left = source_bytes_;
        while (!stopping_ && (source_bytes_ == 0 || left > 0)) {
            const std::size_t n = source_bytes_ == 0 ? chunk.size() : std::min<std::uint64_t>(left, chunk.size());
            const auto w = ::send(fd, chunk.data(), n, MSG_NOSIGNAL);
            if (w <= 0) break;
            sent_ += static_cast<std::uint64_t>(w);
            left -= static_cast<std::uint64_t>(w);
            {
                std::lock_guard lock(mutex_);
                ++events_;
            }
            changed_.notify_all();  // wait_until callers watch bytes_sent()
        }
    }
    char buf[16384];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        {
            std::lock_guard lock(mutex_);
            received_.append(buf, static_cast<std::size_t>(n));
            ++events_;
        }
        changed_.notify_all();
        if (mode_ == Mode::echo) {
            if (::send(fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) > 0) {
                sent_ += static_cast<std::uint64_t>(n);
                {
                    std::lock_guard lock(mutex_);
                    ++events_;
                }
                changed_.notify_all();
            }
        }
    }
    {
        std::lock_guard lock(mutex_);
        peer_closed_ = true;
        ++events_;
    }
    changed_.notify_all();
    ::shutdown(fd, SHUT_WR);
}

int TcpBackend::connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
}

std::string TcpBackend::received() const {
    std::lock_guard lock(mutex_);
    return received_;
}

std::size_t TcpBackend::received_size() const {
    std::lock_guard lock(mutex_);
    return received_.size();
}

bool TcpBackend::peer_closed() const {
    std::lock_guard lock(mutex_);
    return peer_closed_;
}

bool TcpBackend::send(std::string_view bytes) {
    int fd = -1;
    {
        std::lock_guard lock(mutex_);
        if (fds_.empty()) return false;
        fd = fds_.back();
    }
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

long TcpBackend::send_some(std::string_view bytes) {
    int fd = -1;
    {
        std::lock_guard lock(mutex_);
        if (fds_.empty()) return -1;
        fd = fds_.back();
    }
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

bool TcpBackend::writable(std::chrono::milliseconds deadline) {
    int fd = -1;
    {
        std::lock_guard lock(mutex_);
        if (fds_.empty()) return false;
        fd = fds_.back();
    }
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, static_cast<int>(deadline.count())) == 1 && (p.revents & POLLOUT) != 0;
}

void TcpBackend::close_last() {
    std::lock_guard lock(mutex_);
    if (!fds_.empty()) ::shutdown(fds_.back(), SHUT_RDWR);
}

void TcpBackend::reset_last() {
    std::lock_guard lock(mutex_);
    if (fds_.empty()) return;
    // Linux: connect() to AF_UNSPEC on a TCP socket aborts the connection with a RST and keeps
    // the descriptor (the serving thread still owns it).
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    ::connect(fds_.back(), &unspec, sizeof unspec);
}

bool TcpBackend::wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::unique_lock lock(mutex_);
    while (true) {
        // The predicate takes the lock itself, so it runs without it: an event between it and
        // the wait is seen by its count, not lost with its notification.
        const auto seen = events_;
        lock.unlock();
        const bool ok = predicate();
        lock.lock();
        if (ok) return true;
        if (!changed_.wait_until(lock, until, [&] { return events_ != seen; })) {
            lock.unlock();
            return predicate();
        }
    }
}

int connect_tcp(std::uint16_t port, const char* source) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    // EADDRNOTAVAIL / EAGAIN say this machine had no local port to spare at that moment (a suite
    // that leaves thousands of loopback connections in TIME-WAIT), not that the server refused:
    // a few more attempts, each on a new socket. The server's own answers (ECONNREFUSED, ...)
    // are returned at once; errno is kept for the caller.
    for (int attempt = 0;; ++attempt) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        if (source) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
                ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
                const int error = errno;
                ::close(fd);
                errno = error;
                return -1;
            }
        }
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
        const int error = errno;
        ::close(fd);
        errno = error;
        if (attempt == 4 || (error != EADDRNOTAVAIL && error != EAGAIN && error != EINTR)) return -1;
    }
}

bool wait_closed(int fd, std::chrono::milliseconds deadline, std::string* got) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    char buf[4096];
    while (poll_for(fd, POLLIN, until)) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
        if (got) got->append(buf, static_cast<std::size_t>(n));
    }
    return false;
}

bool send_raw(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string read_raw_until(int fd, std::string_view needle, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string out;
    char buf[4096];
    while (out.find(needle) == std::string::npos && poll_for(fd, POLLIN, until)) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

TlsClient::TlsClient(std::uint16_t port, SSL_CTX* ctx, const std::string& sni, std::chrono::milliseconds deadline)
    : TlsClient(connect_tcp(port), ctx, sni, std::string(), deadline) {}

TlsClient::TlsClient(int fd, SSL_CTX* ctx, const std::string& sni, const std::string& alpn,
                     std::chrono::milliseconds deadline) {
    start(fd, ctx, sni, alpn, nullptr, deadline);
}

TlsClient::TlsClient(std::uint16_t port, SSL_CTX* ctx, SSL_SESSION* resume, const std::string& sni) {
    start(connect_tcp(port), ctx, sni, std::string(), resume, 10s);
}

void TlsClient::start(int fd, SSL_CTX* ctx, const std::string& sni, const std::string& alpn, SSL_SESSION* resume,
                      std::chrono::milliseconds deadline) {
    fd_ = fd;
    if (fd_ < 0) {
        error_ = "connect failed";
        return;
    }
    ssl_.reset(SSL_new(ctx));
    SSL_set_fd(ssl_.get(), fd_);
#if defined(WARD_TLS_WOLFSSL)
    // wolfSSL's client asks for a TLS 1.2 session ticket only when told to (OpenSSL's always does).
    wolfSSL_UseSessionTicket(ssl_.get());
#endif
    if (resume) SSL_set_session(ssl_.get(), resume);
    if (!sni.empty())
        SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(sni.c_str()));
    if (!alpn.empty()) tls::offer_alpn(ssl_.get(), alpn);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        ERR_clear_error();
        const int r = SSL_connect(ssl_.get());
        if (r == 1) break;
        const int e = SSL_get_error(ssl_.get(), r);
        if (e == SSL_ERROR_WANT_READ && poll_for(fd_, POLLIN, until)) continue;
        if (e == SSL_ERROR_WANT_WRITE && poll_for(fd_, POLLOUT, until)) continue;
        char text[256];
        ERR_error_string_n(ERR_get_error(), text, sizeof text);
        error_ = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "handshake timed out" : text;
        ERR_clear_error();
        return;
    }
    ok_ = true;
}

TlsClient::~TlsClient() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::send(std::string_view bytes) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    std::size_t done = 0;
    while (done < bytes.size()) {
        ERR_clear_error();
        std::size_t n = 0;
        if (SSL_write_ex(ssl_.get(), bytes.data() + done, bytes.size() - done, &n) == 1) {
            done += n;
            continue;
        }
        const int e = SSL_get_error(ssl_.get(), 0);
        if (e == SSL_ERROR_WANT_WRITE && poll_for(fd_, POLLOUT, until)) continue;
        if (e == SSL_ERROR_WANT_READ && poll_for(fd_, POLLIN, until)) continue;
        ERR_clear_error();
        return false;
    }
    return true;
}

int TlsClient::read_once(char* buf, int size, std::chrono::steady_clock::time_point until) {
    for (;;) {
        ERR_clear_error();
        const int r = SSL_read(ssl_.get(), buf, size);
        if (r > 0) return r;
        const int e = SSL_get_error(ssl_.get(), r);
        if (e == SSL_ERROR_WANT_READ) {
            if (!poll_for(fd_, POLLIN, until)) return -1;
            continue;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            if (!poll_for(fd_, POLLOUT, until)) return -1;
            continue;
        }
        clean_close_ = e == SSL_ERROR_ZERO_RETURN;
        ERR_clear_error();
        return 0;
    }
}

std::string TlsClient::read(std::size_t n, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string out;
    char buf[16384];
    while (out.size() < n) {
        const int r = read_once(buf, sizeof buf, until);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

std::string TlsClient::read_until(std::string_view needle, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string out;
    char buf[16384];
    while (out.find(needle) == std::string::npos) {
        const int r = read_once(buf, sizeof buf, until);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

bool TlsClient::wait_closed(std::chrono::milliseconds deadline, std::string* got) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    char buf[16384];
    for (;;) {
        const int r = read_once(buf, sizeof buf, until);
        if (r < 0) return false;
        if (r == 0) return true;
        if (got) got->append(buf, static_cast<std::size_t>(r));
    }
}

void TlsClient::shutdown() {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

RefusingPort::RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error(std::string("RefusingPort: ") + std::strerror(errno));
    port_ = ntohs(a.sin_port);
}

RefusingPort::~RefusingPort() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace ward::test
