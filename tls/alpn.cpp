// SPDX-License-Identifier: Apache-2.0
#include "tls/alpn.hpp"

#include <cstring>
#include <string>

namespace ward::tls {

int alpn_slot() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

namespace {

int expected_index() { return alpn_slot(); }

int select(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
           void*) {
    const auto* expected = static_cast<const char*>(SSL_get_ex_data(ssl, expected_index()));
    if (expected == nullptr) return SSL_TLSEXT_ERR_NOACK;
    const std::size_t want = std::strlen(expected);
    // The client's list: length-prefixed names.
    for (unsigned int i = 0; i < inlen;) {
        const unsigned int n = in[i];
        if (n == 0 || i + 1 + n > inlen) break;
        if (n == want && std::memcmp(in + i + 1, expected, n) == 0) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(n);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

}  // namespace

void install_alpn_selector(SSL_CTX* ctx) { SSL_CTX_set_alpn_select_cb(ctx, &select, nullptr); }

void expect_alpn(SSL* ssl, const char* protocol) {
    SSL_set_ex_data(ssl, expected_index(), const_cast<char*>(protocol));
}

bool offer_alpn(SSL* ssl, std::string_view protocol) {
    if (protocol.empty() || protocol.size() > 255) return false;
    std::string wire(1, static_cast<char>(protocol.size()));
    wire += protocol;
    // SSL_set_alpn_protos returns 0 on success.
    return SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                               static_cast<unsigned int>(wire.size())) == 0;
}

std::string_view selected_alpn(const SSL* ssl) {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &data, &len);
    return data == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(data), len);
}

}  // namespace ward::tls
