// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/stream.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "bench/loadgen/openssl_error.hpp"

namespace ward::loadgen {

namespace {

std::string errno_text(int e) { return std::generic_category().message(e); }

}  // namespace

Stream::Stream(asio::io_context& io, Watchdog& watchdog, Clock::duration timeout)
    : socket_(io), watchdog_(watchdog), timeout_(timeout) {
    watchdog_.add(*this);
}

Stream::~Stream() {
    watchdog_.remove(*this);
    ssl_.reset();
}

void Stream::fail(const char* what, std::string_view why) {
    if (failed_) return;
    failed_ = true;
    failure_ = what;
    failure_ += ": ";
    failure_ += why;
}

void Stream::interrupt() {
    interrupted_ = true;
    if (waiting_ > 0) {
        error_code ec;
        socket_.cancel(ec);
    }
}

awaitable<Stream::Wait> Stream::wait(tcp::socket::wait_type type, const char* what) {
    for (;;) {
        if (interrupted_) co_return Wait::interrupted;
        ++waiting_;
        auto [ec] = co_await socket_.async_wait(type, use_tuple);
        --waiting_;
        if (!ec) {
            // Progress, even if a sweep judged the stream stalled a moment too early.
            timed_out_ = false;
            touch();
            co_return Wait::ready;
        }
        if (ec != asio::error::operation_aborted) {
            fail(what, ec.message());
            co_return Wait::failed;
        }
        if (timed_out_) {
            fail(what, "timeout");
            co_return Wait::failed;
        }
        if (interrupted_) co_return Wait::interrupted;
        // Cancelled by a sweep whose verdict another wait on this stream has since overturned
        // (the reader and the writer of a bulk stream wait side by side): wait again.
    }
}

awaitable<Outcome> Stream::connect(const tcp::endpoint& target, const std::string& from) {
    error_code ec;
    socket_.open(target.protocol(), ec);
    if (!ec && !from.empty()) socket_.bind(tcp::endpoint(asio::ip::make_address(from), 0), ec);
    if (ec) {
        fail("connect", ec.message());  // EMFILE and friends
        co_return Outcome::failed;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    socket_.native_non_blocking(true, ec);
    touch();
    ++waiting_;
    auto [cec] = co_await socket_.async_connect(target, use_tuple);
    --waiting_;
    if (cec) {
        fail("connect", timed_out_ ? "timeout" : cec.message());
        co_return Outcome::failed;
    }
    touch();
    co_return Outcome::ok;
}

void Stream::attach_tls(UniqueSsl ssl) {
    ssl_ = std::move(ssl);
    SSL_set_fd(ssl_.get(), socket_.native_handle());  // BIO_NOCLOSE: socket_ owns the descriptor
}

Stream::Step Stream::classify_tls(int ret, int saved_errno, const char* what) {
    switch (SSL_get_error(ssl_.get(), ret)) {
        case SSL_ERROR_WANT_READ: return Step::want_read;
        case SSL_ERROR_WANT_WRITE: return Step::want_write;
        case SSL_ERROR_ZERO_RETURN:
            peer_closed_ = true;
            peer_close_notify_ = true;
            return Step::closed;
        case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            if (saved_errno == 0) {  // EOF without close_notify
                peer_closed_ = true;
                return Step::closed;
            }
            fail(what, errno_text(saved_errno));
            return Step::failed;
        default: {
            const unsigned long e = ERR_peek_error();
            if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                ERR_clear_error();
                peer_closed_ = true;
                return Step::closed;
            }
            std::string why = openssl_error("", "TLS error").substr(2);
            if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
                const long v = SSL_get_verify_result(ssl_.get());
                if (v != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(v) + ")";
            }
            tls_failed_ = !failed_;
            fail(what, why);
            return Step::failed;
        }
    }
}

awaitable<Outcome> Stream::handshake() {
    if (!usable()) co_return Outcome::failed;
    touch();
    for (;;) {
        errno = 0;
        const int r = SSL_do_handshake(ssl_.get());
        if (r == 1) co_return Outcome::ok;
        const Step step = classify_tls(r, errno, "handshake");
        if (step == Step::closed) {
            fail("handshake", peer_close_notify_ ? "peer sent close_notify" : "connection closed by peer");
            co_return Outcome::failed;
        }
        if (step == Step::failed) co_return Outcome::failed;
        const Wait w = co_await wait(step == Step::want_read ? tcp::socket::wait_read : tcp::socket::wait_write,
                                     "handshake");
        if (w == Wait::interrupted) co_return Outcome::interrupted;
        if (w == Wait::failed) co_return Outcome::failed;
    }
}

awaitable<Outcome> Stream::write_all(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t off = 0;
    touch();
    while (off < size) {
        if (!usable()) co_return Outcome::failed;
        Step step;
        if (ssl_) {
            std::size_t n = 0;
            errno = 0;
            const int r = SSL_write_ex(ssl_.get(), p + off, size - off, &n);
            if (r == 1) {
                off += n;
                continue;
            }
            step = classify_tls(r, errno, "write");
        } else {
            const ssize_t n = ::send(socket_.native_handle(), p + off, size - off, MSG_NOSIGNAL);
            if (n >= 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                step = Step::want_write;
            } else {
                fail("write", errno_text(errno));
                step = Step::failed;
            }
        }
        if (step == Step::closed) fail("write", "connection closed by peer");
        if (step == Step::closed || step == Step::failed) co_return Outcome::failed;
        const Wait w =
            co_await wait(step == Step::want_read ? tcp::socket::wait_read : tcp::socket::wait_write, "write");
        if (w == Wait::interrupted) co_return Outcome::interrupted;
        if (w == Wait::failed) co_return Outcome::failed;
    }
    co_return Outcome::ok;
}

Stream::Step Stream::read_once(void* data, std::size_t size, std::size_t& got) {
    if (peer_closed_) return Step::closed;
    if (ssl_) {
        errno = 0;
        const int r = SSL_read_ex(ssl_.get(), data, size, &got);
        return r == 1 ? Step::done : classify_tls(r, errno, "read");
    }
    for (;;) {
        const ssize_t n = ::recv(socket_.native_handle(), data, size, 0);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            return Step::done;
        }
        if (n == 0) {
            peer_closed_ = true;
            peer_close_notify_ = true;  // a FIN is plain TCP's orderly close
            return Step::closed;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Step::want_read;
        fail("read", errno_text(errno));
        return Step::failed;
    }
}

awaitable<Outcome> Stream::read_some(void* data, std::size_t size, std::size_t& got) {
    got = 0;
    touch();
    for (;;) {
        if (!usable()) co_return Outcome::failed;
        const Step step = read_once(data, size, got);
        if (step == Step::done) co_return Outcome::ok;
        if (step == Step::closed) co_return Outcome::closed;
        if (step == Step::failed) co_return Outcome::failed;
        const Wait w =
            co_await wait(step == Step::want_read ? tcp::socket::wait_read : tcp::socket::wait_write, "read");
        if (w == Wait::interrupted) co_return Outcome::interrupted;
        if (w == Wait::failed) co_return Outcome::failed;
    }
}

awaitable<Outcome> Stream::read_exact(void* data, std::size_t size) {
    auto* p = static_cast<unsigned char*>(data);
    std::size_t off = 0;
    while (off < size) {
        std::size_t got = 0;
        const Outcome o = co_await read_some(p + off, size - off, got);
        if (o == Outcome::closed) fail("read", "connection closed by peer before the whole reply");
        if (o != Outcome::ok) co_return o == Outcome::closed ? Outcome::failed : o;
        off += got;
    }
    co_return Outcome::ok;
}

awaitable<Outcome> Stream::exchange(const void* request, void* reply, std::size_t size) {
    const Outcome written = co_await write_all(request, size);
    if (written != Outcome::ok) co_return written;
    co_return co_await read_exact(reply, size);
}

awaitable<Outcome> Stream::read_until(const std::function<bool()>& done) {
    thread_local std::array<unsigned char, 16 * 1024> scratch;
    touch();
    for (;;) {
        if (done()) co_return Outcome::ok;
        if (!usable()) co_return Outcome::failed;
        std::size_t got = 0;
        const Step step = read_once(scratch.data(), scratch.size(), got);
        if (step == Step::done) continue;
        if (step == Step::closed) co_return Outcome::closed;
        if (step == Step::failed) co_return Outcome::failed;
        if (done()) co_return Outcome::ok;
        const Wait w =
            co_await wait(step == Step::want_read ? tcp::socket::wait_read : tcp::socket::wait_write, "read");
        if (w == Wait::interrupted) co_return Outcome::interrupted;
        if (w == Wait::failed) co_return Outcome::failed;
    }
}

awaitable<Outcome> Stream::shutdown_send() {
    if (!usable()) co_return Outcome::failed;
    touch();
    if (ssl_) {
        for (;;) {
            errno = 0;
            const int r = SSL_shutdown(ssl_.get());
            if (r >= 0) break;  // 0: close_notify sent; 1: theirs had arrived already
            const Step step = classify_tls(r, errno, "close");
            if (step == Step::want_write) {
                const Wait w = co_await wait(tcp::socket::wait_write, "close");
                if (w != Wait::ready) co_return w == Wait::interrupted ? Outcome::interrupted : Outcome::failed;
                continue;
            }
            if (step == Step::failed) co_return Outcome::failed;
            break;  // want_read or closed: our close_notify is out
        }
    }
    ::shutdown(socket_.native_handle(), SHUT_WR);
    co_return Outcome::ok;
}

awaitable<CloseResult> Stream::drain() {
    // Whatever arrives now is dropped; one buffer per thread serves every stream.
    thread_local std::array<unsigned char, 16 * 1024> scratch;
    for (;;) {
        std::size_t got = 0;
        const Outcome o = co_await read_some(scratch.data(), scratch.size(), got);
        if (o == Outcome::ok) continue;
        if (o == Outcome::closed) co_return peer_close_notify_ ? CloseResult::close_notify : CloseResult::eof;
        if (o == Outcome::interrupted) co_return CloseResult::aborted;
        co_return timed_out_ ? CloseResult::timeout : tls_failed_ ? CloseResult::tls_error : CloseResult::error;
    }
}

awaitable<CloseResult> Stream::close_gracefully(Clock::duration linger) {
    interrupted_ = false;
    timeout_ = linger;
    CloseResult result = CloseResult::aborted;
    if (usable()) {
        const Outcome o = co_await shutdown_send();
        if (o == Outcome::ok)
            result = co_await drain();
        else
            result = timed_out_ ? CloseResult::timeout : tls_failed_ ? CloseResult::tls_error : CloseResult::error;
    }
    close();
    co_return result;
}

void Stream::close() {
    error_code ec;
    socket_.close(ec);
}

void Watchdog::add(Stream& s) {
    s.next_ = head_;
    if (head_) head_->prev_ = &s;
    head_ = &s;
    ++size_;
}

void Watchdog::remove(Stream& s) {
    if (s.prev_) s.prev_->next_ = s.next_;
    else head_ = s.next_;
    if (s.next_) s.next_->prev_ = s.prev_;
    s.prev_ = s.next_ = nullptr;
    --size_;
}

void Watchdog::sweep(Stream::Clock::time_point now) {
    for (Stream* s = head_; s; s = s->next_) {
        if (s->waiting_ > 0 && s->timeout_.count() > 0 && !s->timed_out_ && now - s->last_progress_ > s->timeout_) {
            s->timed_out_ = true;
            error_code ec;
            s->socket_.cancel(ec);
        }
    }
}

void Watchdog::interrupt_all() {
    for (Stream* s = head_; s; s = s->next_) s->interrupt();
}

}  // namespace ward::loadgen
