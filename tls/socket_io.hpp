// SPDX-License-Identifier: Apache-2.0
#pragma once
// How a TLS connection state reads its socket. OpenSSL reads ahead itself (SSL_CTX_set_read_ahead:
// one read() for a record's header and body, often several records). wolfSSL reads exactly what
// it asks for, a record's 5-byte header and then its body, two reads per record; its flavour
// installs a receive of ward's that reads up to 17 KiB at once and keeps the surplus for the
// next ask, in a buffer held only while it has bytes (an idle connection holds none).
// wolfSSL also sends each handshake message as it makes it (five sends for a TLS 1.3 server's
// flight, each a segment its peer wakes for); while writes are held, they are kept and go out in
// one send at flush_writes. OpenSSL sends a flight at once itself: holding is a no-op there.
#include <cstddef>

#include "tls/openssl_ptr.hpp"

namespace ward::tls {

// Binds ssl to the connected, non-blocking descriptor fd for reading and writing.
void attach_socket(SSL* ssl, int fd);

// Whether the TLS layer holds bytes a read would return or decrypt without the socket: plaintext
// not yet read, or bytes read from the socket and not yet processed.
bool has_pending(const SSL* ssl);

// Keeps what the library writes from now on until flush_writes sends it (a handshake step's
// output); release_writes ends that and drops what was not sent.
void hold_writes(SSL* ssl);
void release_writes(SSL* ssl);
// Sends what is held: 0 once nothing is left, EAGAIN (or EWOULDBLOCK) when the socket is full
// (wait for room and call again), another errno when the send failed.
int flush_writes(SSL* ssl);

// Lends a connection's "the last read left the socket empty" flag to ward's receive (wolfSSL)
// for the library calls made while it is in scope, on this thread: a read that gets fewer bytes
// than it asked for sets it, and the next ask that needs the socket then says "want read"
// without a system call, once, clearing it. A handshake step that has read a ClientHello asks
// again before its answer is even sent; that read would find nothing. (Safe only because the
// caller then waits with Asio's async_wait, which re-arms the descriptor: bytes that came
// meanwhile wake it at once.) OpenSSL reads through its own socket BIO: a no-op there.
class ReadHint {
public:
    explicit ReadHint(bool& drained) noexcept;
    ~ReadHint();
    ReadHint(const ReadHint&) = delete;
    ReadHint& operator=(const ReadHint&) = delete;

private:
    bool* outer_;
};

// What ward's own socket I/O holds for ssl (wolfSSL; all 0 for OpenSSL, whose read-ahead
// has_pending covers). For tests.
struct IoBuffers {
    std::size_t read_ahead = 0;           // bytes read from the socket, not yet processed
    std::size_t read_ahead_capacity = 0;  // what holds them
    std::size_t held_capacity = 0;        // what holds writes (during a handshake)
};
IoBuffers io_buffers(const SSL* ssl);

#ifdef WARD_TLS_WOLFSSL
// The per-connection slots (SSL ex_data indices) that hold the surplus and the held writes;
// reserve_connection_slots takes them.
int read_ahead_slot();
int held_writes_slot();
#endif

}  // namespace ward::tls
