// SPDX-License-Identifier: Apache-2.0
#include "tls/socket_io.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include <wolfssl/wolfio.h>

namespace ward::tls {

namespace {

// What one read takes beyond wolfSSL's ask: a whole TLS 1.3 record (16 KiB of data, its header
// and tag) and then some, so a stream of full records costs about one read each.
constexpr std::size_t kReadAhead = 17 * 1024;

// Bytes read from the socket that wolfSSL has not asked for yet, data()[begin, end), in one
// allocation with this header. Made for a read and kept only while it holds some: a connection
// waiting for its socket holds none. A small surplus is moved into an allocation of its own
// size, so a connection that stops being read (its other side is full) holds what it read, not
// a whole read-ahead buffer.
struct Surplus {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t capacity = 0;
    char* data() { return reinterpret_cast<char*>(this + 1); }
};
constexpr std::size_t kSmallSurplus = 2048;

Surplus* make_surplus(std::size_t capacity) {
    void* p = ::operator new(sizeof(Surplus) + capacity, std::nothrow);
    if (p == nullptr) return nullptr;
    auto* s = new (p) Surplus;
    s->capacity = capacity;
    return s;
}

void free_surplus(void* p) { ::operator delete(p); }  // (Surplus is trivially destructible)

Surplus* surplus_of(const SSL* ssl) {
    return static_cast<Surplus*>(SSL_get_ex_data(const_cast<SSL*>(ssl), read_ahead_slot()));
}

// (wolfSSL runs the cleanup of the value it replaces: the surplus is freed.)
void drop_surplus(SSL* ssl) { wolfSSL_set_ex_data_with_cleanup(ssl, read_ahead_slot(), nullptr, nullptr); }

// Writes held for one send, bytes[sent, size()). At most kMaxHeld bytes: a larger flight waits
// for the socket (wolfSSL hears "want write" and offers the same bytes again).
struct Held {
    std::vector<char> bytes;
    std::size_t sent = 0;
};
constexpr std::size_t kMaxHeld = 64 * 1024;
// Room made at a step's first write, so that a flight of five or six messages (a few KiB with
// its certificate) is one allocation, not one per doubling.
constexpr std::size_t kFirstHeld = 4096;

void free_held(void* p) { delete static_cast<Held*>(p); }

Held* held_of(SSL* ssl) { return static_cast<Held*>(SSL_get_ex_data(ssl, held_writes_slot())); }

// errno as wolfSSL's own socket receive and send report it (WANT_READ and WANT_WRITE are the
// same code); errno stays as it is for SSL_ERROR_SYSCALL.
int io_error(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ;
    if (err == ECONNRESET) return WOLFSSL_CBIO_ERR_CONN_RST;
    if (err == EPIPE || err == ECONNABORTED) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return WOLFSSL_CBIO_ERR_GENERAL;
}

// The flag of the connection whose library call is running on this thread (ReadHint), if any.
thread_local bool* t_drained = nullptr;

// wolfSSL's receive callback: what it asks for from the surplus first; else one readv() into its
// buffer and a fresh surplus. Never more than it asks for (wolfSSL counts that as an overflow).
int receive(WOLFSSL* ssl, char* buf, int sz, void* ctx) {
    if (sz <= 0) return WOLFSSL_CBIO_ERR_GENERAL;
    const auto want = static_cast<std::size_t>(sz);
    if (Surplus* s = surplus_of(ssl)) {
        const std::size_t n = std::min(want, s->end - s->begin);
        std::memcpy(buf, s->data() + s->begin, n);
        s->begin += n;
        if (s->begin == s->end) drop_surplus(ssl);
        return static_cast<int>(n);
    }
    bool* const drained = t_drained;
    if (drained != nullptr && *drained) {
        // The last read left the socket empty: this one would find nothing (see ReadHint).
        *drained = false;
        errno = EAGAIN;
        return WOLFSSL_CBIO_ERR_WANT_READ;
    }
    const int fd = *static_cast<const int*>(ctx);  // (SSL_set_fd's context: the descriptor)
    Surplus* s = make_surplus(kReadAhead);
    iovec iov[2] = {{buf, want}, {s ? s->data() : nullptr, s ? s->capacity : 0}};
    ssize_t n = 0;
    do n = ::readv(fd, iov, s ? 2 : 1);
    while (n < 0 && errno == EINTR);
    const int err = n == 0 ? 0 : errno;  // (an end of stream sets none: not an error's leftover)
    if (drained != nullptr && n > 0) *drained = static_cast<std::size_t>(n) < want + (s ? s->capacity : 0);
    if (n <= 0 || static_cast<std::size_t>(n) <= want) {
        free_surplus(s);
        errno = err;
        if (n == 0) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        return n < 0 ? io_error(err) : static_cast<int>(n);
    }
    const std::size_t extra = static_cast<std::size_t>(n) - want;
    if (extra <= kSmallSurplus) {
        if (Surplus* small = make_surplus(extra)) {
            std::memcpy(small->data(), s->data(), extra);
            free_surplus(s);
            s = small;
        }
    }
    s->end = extra;
    if (wolfSSL_set_ex_data_with_cleanup(ssl, read_ahead_slot(), s, free_surplus) != WOLFSSL_SUCCESS) {
        // (Not reached: attach_socket installs this receive only with a usable slot.) Bytes that
        // cannot be kept must not be lost quietly: the connection fails.
        free_surplus(s);
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    return sz;
}

// Sends held bytes without waiting: 0 when none are left, else the errno (EAGAIN: full).
int send_held(Held& h, int fd) {
    while (h.sent < h.bytes.size()) {
        const ssize_t n = ::send(fd, h.bytes.data() + h.sent, h.bytes.size() - h.sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        h.sent += static_cast<std::size_t>(n);
    }
    // (Its memory too: a handshake waiting for its peer holds nothing it sent.)
    std::vector<char>().swap(h.bytes);
    h.sent = 0;
    return 0;
}

// wolfSSL's send callback: kept while writes are held, else one send().
int send_out(WOLFSSL* ssl, char* buf, int sz, void* ctx) {
    if (sz <= 0) return WOLFSSL_CBIO_ERR_GENERAL;
    const auto size = static_cast<std::size_t>(sz);
    const int fd = *static_cast<const int*>(ctx);  // (SSL_set_fd's context: the descriptor)
    if (Held* h = held_of(ssl)) {
        if (h->bytes.size() + size > kMaxHeld && !h->bytes.empty()) {
            if (const int err = send_held(*h, fd)) {
                errno = err;
                return io_error(err);
            }
        }
        if (h->bytes.size() + size <= kMaxHeld) {
            try {
                if (h->bytes.capacity() == 0) h->bytes.reserve(std::max(kFirstHeld, size));
                h->bytes.insert(h->bytes.end(), buf, buf + size);
            } catch (...) {
                return WOLFSSL_CBIO_ERR_GENERAL;  // (no exception through wolfSSL's C)
            }
            return sz;
        }
        // (Nothing held and more than kMaxHeld asked: sent as it is.)
    }
    ssize_t n = 0;
    do n = ::send(fd, buf, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? io_error(errno) : static_cast<int>(n);
}

}  // namespace

ReadHint::ReadHint(bool& drained) noexcept : outer_(t_drained) { t_drained = &drained; }
ReadHint::~ReadHint() { t_drained = outer_; }

int held_writes_slot() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

void hold_writes(SSL* ssl) {
    if (held_of(ssl) || held_writes_slot() < 0 || held_writes_slot() >= MAX_EX_DATA) return;
    auto* h = new Held;
    if (wolfSSL_set_ex_data_with_cleanup(ssl, held_writes_slot(), h, free_held) != WOLFSSL_SUCCESS) delete h;
}

void release_writes(SSL* ssl) {
    // (wolfSSL runs the cleanup of the value it replaces.)
    if (held_of(ssl)) wolfSSL_set_ex_data_with_cleanup(ssl, held_writes_slot(), nullptr, nullptr);
}

int flush_writes(SSL* ssl) {
    Held* h = held_of(ssl);
    return h ? send_held(*h, wolfSSL_get_fd(ssl)) : 0;
}

int read_ahead_slot() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

void attach_socket(SSL* ssl, int fd) {
    SSL_set_fd(ssl, fd);
    const int slot = read_ahead_slot();
    if (slot >= 0 && slot < MAX_EX_DATA) wolfSSL_SSLSetIORecv(ssl, receive);
    wolfSSL_SSLSetIOSend(ssl, send_out);
}

bool has_pending(const SSL* ssl) { return wolfSSL_has_pending(ssl) == 1 || surplus_of(ssl) != nullptr; }

IoBuffers io_buffers(const SSL* ssl) {
    IoBuffers out;
    if (Surplus* s = surplus_of(ssl)) {
        out.read_ahead = s->end - s->begin;
        out.read_ahead_capacity = s->capacity;
    }
    if (const Held* h = held_of(const_cast<SSL*>(ssl))) out.held_capacity = h->bytes.capacity();
    return out;
}

}  // namespace ward::tls
