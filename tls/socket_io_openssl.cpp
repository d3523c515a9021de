// SPDX-License-Identifier: Apache-2.0
#include "tls/socket_io.hpp"

namespace ward::tls {

void attach_socket(SSL* ssl, int fd) { SSL_set_fd(ssl, fd); }

bool has_pending(const SSL* ssl) { return SSL_has_pending(ssl) == 1; }

void hold_writes(SSL*) {}
void release_writes(SSL*) {}
int flush_writes(SSL*) { return 0; }

IoBuffers io_buffers(const SSL*) { return {}; }

ReadHint::ReadHint(bool&) noexcept : outer_(nullptr) {}
ReadHint::~ReadHint() = default;

}  // namespace ward::tls
