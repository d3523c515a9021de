// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include <expat.h>

namespace ward::xmpp {

// Keys a new parser's hash tables with its thread's current salt, before it parses anything.
//
// Expat keys its hash tables (SipHash) with a salt against collision flooding. Left to itself
// it draws one per parser at its first parse (a getrandom system call, and a getenv for its
// entropy debugging), and an XMPP session opens several parsers. A thread draws one from the
// kernel for every kParsersPerSalt parsers instead: a salt never leaves the process, and should
// one ever be disclosed (a memory leak elsewhere, a core dump), it keys a bounded number of
// parsers, not the rest of the process's life. If the kernel gives none, the parser draws its
// own as before.
inline constexpr unsigned kParsersPerSalt = 1024;
void salt_parser(XML_Parser parser);

// Salts drawn so far on the calling thread (for tests of the rotation).
std::uint64_t salts_drawn_on_this_thread();

}  // namespace ward::xmpp
