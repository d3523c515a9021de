// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared pieces of the end-to-end tests: the ward configuration sections every test needs (the
// TestPki server certificate and trust store), and small text helpers.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

namespace ward::e2e {

namespace fs = std::filesystem;

// The installed FIPS provider: deploy/fips/build-provider.sh's place, or WARD_FIPS_MODULE_DIR.
inline std::string fips_module_dir() {
    const char* env = std::getenv("WARD_FIPS_MODULE_DIR");
    return env && *env ? env : "/usr/local/lib/ward/fips";
}

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// `certificates`, `trust_stores` and `tls_peer_subjects` for a TestPki made in <dir>/pki: the
// server certificate "server" and the trust store "peers".
inline std::string pki_sections(const std::vector<std::string>& subjects = {}) {
    std::string yaml =
        "certificates:\n"
        "  server: { cert: pki/server.pem, key: pki/server.key }\n"
        "trust_stores:\n"
        "  peers: { dir: pki/trust }\n";
    if (!subjects.empty()) {
        yaml += "tls_peer_subjects:\n";
        for (const auto& s : subjects) yaml += "  - subject: " + s + "\n    description: e2e peer " + s + "\n";
    }
    return yaml;
}

// Writes the configuration to <dir>/ward.yaml and returns its path.
inline fs::path write_config(const fs::path& dir, const std::string& yaml) {
    const auto file = dir / "ward.yaml";
    test::write_text_file(file, yaml);
    return file;
}

// The lines of `text` (without their line ends) that start with `prefix`, ignoring ASCII case.
inline std::vector<std::string> lines_starting_with(std::string_view text, std::string_view prefix) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string line(text.substr(start, end - start));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        bool match = line.size() >= prefix.size();
        for (std::size_t i = 0; match && i < prefix.size(); ++i) {
            const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
            match = lower(line[i]) == lower(prefix[i]);
        }
        if (match) out.push_back(line);
        start = end + 1;
    }
    return out;
}

}  // namespace ward::e2e
