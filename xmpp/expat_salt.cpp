// SPDX-License-Identifier: Apache-2.0
#include "xmpp/expat_salt.hpp"

#include <sys/random.h>

#include <stdexcept>

namespace ward::xmpp {

namespace {

struct ThreadSalt {
    unsigned long value = 0;
    unsigned uses = 0;         // parsers keyed with `value`; a new one is drawn at 0
    std::uint64_t drawn = 0;
};
thread_local ThreadSalt t_salt;

unsigned long draw_salt() {
    unsigned long value = 0;
    for (int attempt = 0; attempt < 4 && value == 0; ++attempt) {
        if (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) value = 0;
    }
    return value;  // 0: none drawn, and expat's own salting stays
}

}  // namespace

void salt_parser(XML_Parser parser) {
    if (t_salt.uses == 0) {
        t_salt.value = draw_salt();
        ++t_salt.drawn;
    }
    t_salt.uses = (t_salt.uses + 1) % kParsersPerSalt;
    if (t_salt.value != 0 && XML_SetHashSalt(parser, t_salt.value) != 1)
        throw std::logic_error("expat refused the hash salt");
}

std::uint64_t salts_drawn_on_this_thread() { return t_salt.drawn; }

}  // namespace ward::xmpp
