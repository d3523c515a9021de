// SPDX-License-Identifier: Apache-2.0
// The PROXY protocol v2 parser (what a trusted load balancer sends before the client's bytes):
// no input crashes it or reads past it, a header it accepts lies within the input and the
// limit, and what it decoded survives encoding and parsing again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/engine/proxy_header.hpp"

namespace pp = ward::proxy::proxy_v2;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto p = pp::parse(in);
    if (p.status == pp::Parsed::Status::need_more && (p.length <= in.size() || p.length > pp::kMaxAccepted)) std::abort();
    if (p.status != pp::Parsed::Status::done) return 0;
    if (p.length > in.size() || p.length > pp::kMaxAccepted || p.length < 16) std::abort();
    const auto again = pp::parse(pp::encode(p.header), 16 + 65535);
    if (again.status != pp::Parsed::Status::done) std::abort();
    const auto& a = p.header;
    const auto& b = again.header;
    if (a.local != b.local || a.alpn != b.alpn || a.authority != b.authority) std::abort();
    if (!a.local && (a.source != b.source || a.destination != b.destination)) std::abort();
    if (a.tls.present && !(a.tls == b.tls)) std::abort();
    return 0;
}
