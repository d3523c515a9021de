// SPDX-License-Identifier: Apache-2.0
#include "tls/openssl_error.hpp"

#include <openssl/err.h>

namespace ward::tls {

std::string openssl_error(std::string_view what) {
    std::string out(what);
    const char* data = nullptr;
    int flags = 0;
    while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += out.empty() ? "" : ": ";
        // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason text.
        std::string_view s(buf);
        if (auto pos = s.rfind(':'); pos != std::string_view::npos) s.remove_prefix(pos + 1);
        out += s;
        if ((flags & ERR_TXT_STRING) && data && *data) {
            out += " (";
            out += data;
            out += ")";
        }
    }
    return out;
}

void clear_openssl_errors() { ERR_clear_error(); }

}  // namespace ward::tls
