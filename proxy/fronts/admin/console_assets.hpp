// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin console's files (proxy/fronts/admin/console/), bundled by esbuild at build time and
// compiled into ward (embed.cmake): served under / by the admin listener, nothing fetched from
// elsewhere at run time.
#include <cstddef>
#include <string_view>

namespace ward::proxy::admin {

struct ConsoleAsset {
    const char* url;           // "/", "/app.js", "/app.css"
    const char* content_type;
    const char* data;
    std::size_t size;
};

// The asset served at `url`, or nullptr.
const ConsoleAsset* console_asset(std::string_view url);

}  // namespace ward::proxy::admin
