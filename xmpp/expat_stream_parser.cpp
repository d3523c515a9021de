// SPDX-License-Identifier: Apache-2.0
#include "xmpp/expat_stream_parser.hpp"

#include <new>
#include <stdexcept>

#include "xmpp/expat_memory.hpp"
#include "xmpp/expat_salt.hpp"

namespace ward::xmpp {

namespace {

// The version macros do not tell whether XML_SetReparseDeferralEnabled exists (distributions
// backport it), so the call is resolved at instantiation: the first overload drops out of
// overload resolution when the function is not declared.
template <typename Parser>
auto disable_reparse_deferral(Parser parser, int) -> decltype(XML_SetReparseDeferralEnabled(parser, XML_FALSE), void()) {
    if (XML_SetReparseDeferralEnabled(parser, XML_FALSE) != XML_TRUE) throw std::logic_error("expat refused to disable reparse deferral");
}

template <typename Parser>
void disable_reparse_deferral(Parser, long) {}

}  // namespace

XML_Parser create_stream_parser(void* user_data) {
    // Only UTF-8 is XMPP (section 11.6): the tokenizer refuses a declaration naming another
    // encoding, and UTF-16/32 byte patterns, itself.
    XML_Parser p = XML_ParserCreate_MM("UTF-8", &counting_memory(), &kNsSeparator);
    if (p == nullptr) throw std::bad_alloc();
    XML_SetUserData(p, user_data);
    salt_parser(p);
    XML_SetReturnNSTriplet(p, XML_TRUE);
    // Never read or expand anything from a DTD; a DOCTYPE is refused at its start anyway.
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    // Reparse deferral (expat 2.6, and backported into Debian's 2.5.0 with the fix for
    // CVE-2023-52425) holds back complete tokens until more bytes arrive; a client sends
    // nothing after `<starttls/>` until it sees `<proceed/>`, so it must be off.
    disable_reparse_deferral(p, 0);
    return p;
}

}  // namespace ward::xmpp
