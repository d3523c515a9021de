// SPDX-License-Identifier: Apache-2.0
#include "xmpp/expat_salt.hpp"

#include <sys/random.h>

#include <stdexcept>

namespace ward::xmpp {

namespace {

unsigned long draw_salt() {
    unsigned long value = 0;
    for (int attempt = 0; attempt < 4 && value == 0; ++attempt) {
        if (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) value = 0;
    }
    return value;  // 0: none drawn, and expat's own salting stays
}

}  // namespace

void salt_parser(XML_Parser parser) {
    thread_local const unsigned long salt = draw_salt();
    if (salt != 0 && XML_SetHashSalt(parser, salt) != 1) throw std::logic_error("expat refused the hash salt");
}

}  // namespace ward::xmpp
