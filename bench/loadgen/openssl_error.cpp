// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/openssl_error.hpp"

#include <system_error>

#include <openssl/err.h>

namespace ward::loadgen {

std::string openssl_error(std::string_view what, std::string_view fallback, bool with_data) {
    std::string out(what);
    bool any = false;
    const char* data = nullptr;
    int flags = 0;
    while (const unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
        const char* reason = ERR_reason_error_string(e);
        std::string text = ERR_SYSTEM_ERROR(e) ? std::generic_category().message(ERR_GET_REASON(e))
                           : reason          ? reason
                                             : "error " + std::to_string(ERR_GET_REASON(e));
        if (ERR_SYSTEM_ERROR(e)) data = nullptr;  // "calling fopen(...)": the caller names the file
        if (with_data && (flags & ERR_TXT_STRING) && data && *data) text += std::string(" (") + data + ")";
        // The same reason twice in a row (OpenSSL stacks them) says nothing new.
        if (out.size() >= text.size() && out.compare(out.size() - text.size(), text.size(), text) == 0) continue;
        out += ": ";
        out += text;
        any = true;
    }
    if (!any) {
        out += ": ";
        out += fallback;
    }
    return out;
}

}  // namespace ward::loadgen
