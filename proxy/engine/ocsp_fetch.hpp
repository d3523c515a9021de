// SPDX-License-Identifier: Apache-2.0
#pragma once
// One OCSP request over HTTP/1.1 (RFC 6960 appendix A.1, POST): connect, send, read the answer,
// all within a deadline and a size bound. What stapling and peers' revocation checks share.
#include <chrono>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "proxy/engine/asio.hpp"
#include "tls/ocsp.hpp"

namespace ward::proxy {

struct OcspFetch {
    bool ok = false;
    std::string body;   // the DER response when ok
    std::string error;  // why not, when !ok
};

// Responses past this are refused (a real one is a few KiB).
inline constexpr std::size_t kOcspResponseLimit = 64 * 1024;

// `url` and `request` must stay alive until the fetch completes.
awaitable<OcspFetch> fetch_ocsp(asio::any_io_executor ex, const tls::HttpUrl& url, const std::string& request,
                                std::chrono::milliseconds timeout);

}  // namespace ward::proxy
