// SPDX-License-Identifier: Apache-2.0
#pragma once
// Draining OpenSSL's thread-local error queue into a message, so one operation's stale error
// never poisons the next (nginx's ngx_ssl_error does the same).
#include <string>
#include <string_view>

namespace ward::tls {

// Returns "what" followed by every queued OpenSSL error (": reason (lib)" each), and leaves
// the queue empty. With an empty queue, returns "what" unchanged.
std::string openssl_error(std::string_view what);

// Empties the queue, dropping whatever is in it.
void clear_openssl_errors();

}  // namespace ward::tls
