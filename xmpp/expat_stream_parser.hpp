// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <expat.h>

namespace ward::xmpp {

// Expat reports names as "uri SEP local SEP prefix" (XML_SetReturnNSTriplet); a character
// that cannot occur in a name or a namespace URI keeps the split unambiguous.
inline constexpr char kNsSeparator = '\x01';

// A parser for an XMPP stream, as the stream tokenizer needs it: UTF-8 only, namespaces
// reported as triplets split by kNsSeparator, nothing read or expanded from a DTD, complete
// tokens reported at once (no reparse deferral), its hash tables keyed with the thread's salt
// (expat_salt.hpp), and its memory counted (expat_memory.hpp: call it under a ChargeTo). The
// caller sets the handlers. Throws std::bad_alloc when expat has no memory.
XML_Parser create_stream_parser(void* user_data);

}  // namespace ward::xmpp
