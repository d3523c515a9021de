// SPDX-License-Identifier: Apache-2.0
#pragma once
// Draining OpenSSL's thread-local error queue into words, so one connection's stale error
// never shows up as the next one's reason.
#include <string>
#include <string_view>

namespace ward::loadgen {

// "what: reason: reason..." for every queued error, and the queue left empty. Reasons only
// (no file, line or per-connection data) unless with_data, so that failure counts group
// equal causes together. With an empty queue, "what: fallback".
std::string openssl_error(std::string_view what, std::string_view fallback, bool with_data = false);

}  // namespace ward::loadgen
