// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <expat.h>

namespace ward::xmpp {

// Keys a new parser's hash tables with its thread's salt, before it parses anything.
//
// Expat keys its hash tables (SipHash) with a salt against collision flooding. Left to itself
// it draws one per parser at its first parse (a getrandom system call, and a getenv for its
// entropy debugging), and an XMPP session opens several parsers. One salt per thread, drawn
// from the kernel once, keys them all; it never leaves the process, so a peer has no more to
// aim collisions at than before. If the kernel gives none, the parser draws its own as before.
void salt_parser(XML_Parser parser);

}  // namespace ward::xmpp
