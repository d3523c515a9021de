// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real prosody (Debian's) for the end-to-end tests: TLS off (ward terminates it), in its own
// folder, with users registered, stopped when it goes.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

namespace ward::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::test::BackgroundProcess;

inline constexpr int kPortAttempts = 3;
inline const fs::path kFixtures = fs::path(WARD_SOURCE_DIR) / "tests" / "e2e" / "xmpp";
inline const std::string kPassword = "e2e-secret";

inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

// One prosody for `domain`, TLS off, in its own folder; `users` registered with kPassword.
class Prosody {
public:
    // `s2s_port`: a port reserved earlier (a ward's backend); 0: one of its own. `contacts`:
    // pairs of users each in the other's roster (subscription both), written before it starts.
    // `more_hosts`: further domains it serves (no users).
    Prosody(const fs::path& dir, const std::string& domain, const std::vector<std::string>& users,
            std::uint16_t dns_port = 1, std::uint16_t s2s_port = 0,
            const std::vector<std::pair<std::string, std::string>>& contacts = {},
            const std::vector<std::string>& more_hosts = {})
        : dir_(dir), domain_(domain) {
        fs::create_directories(dir_);
        for (const auto& [a, b] : contacts) {
            add_contact(a, b);
            add_contact(b, a);
        }
        const auto text = ward::test::read_text_file(kFixtures / "prosody.cfg.lua.in");
        REQUIRE(!text.empty());
        for (int attempt = 0; attempt < kPortAttempts && !process_; ++attempt) {
            c2s_ = ward::test::reserve_port();
            s2s_ = s2s_port != 0 ? s2s_port : ward::test::reserve_port();
            http_ = ward::test::reserve_port();
            std::string cfg = replace_all(text, "@DIR@", dir_.string());
            cfg = replace_all(cfg, "@DOMAIN@", domain);
            cfg = replace_all(cfg, "@C2S_PORT@", std::to_string(c2s_));
            cfg = replace_all(cfg, "@S2S_PORT@", std::to_string(s2s_));
            cfg = replace_all(cfg, "@DNS_PORT@", std::to_string(dns_port));
            cfg = replace_all(cfg, "@HTTP_PORT@", std::to_string(http_));
            for (const auto& host : more_hosts) cfg += "\nVirtualHost \"" + host + "\"\n";
            ward::test::write_text_file(config(), cfg);
            for (const auto& user : users) {
                const auto r = ward::test::run_process(
                    {"prosodyctl", "--config", config().string(), "register", user, domain, kPassword}, 30s);
                REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
            }
            auto p = std::make_unique<BackgroundProcess>(
                std::vector<std::string>{"prosody", "-F", "--config", config().string()});
            REQUIRE_MESSAGE(p->started(), p->describe());
            if (ward::test::wait_for_port(c2s_, 10s) && ward::test::wait_for_port(s2s_, 10s) &&
                ward::test::wait_for_port(http_, 10s) && !p->exited()) {
                process_ = std::move(p);
            } else {
                MESSAGE("prosody did not listen on reserved ports; trying others:\n" << log());
            }
        }
        REQUIRE_MESSAGE(process_ != nullptr, "prosody did not start:\n" << log());
    }

    fs::path config() const { return dir_ / "prosody.cfg.lua"; }
    const std::string& domain() const { return domain_; }
    std::uint16_t c2s_port() const { return c2s_; }
    std::uint16_t s2s_port() const { return s2s_; }
    // Plain HTTP: BOSH at /http-bind, WebSocket at /xmpp-websocket.
    std::uint16_t http_port() const { return http_; }
    std::string log() const { return ward::test::read_text_file(dir_ / "prosody.log"); }

private:
    // Prosody 0.12 has no command for a roster entry: its internal storage file, data/<host with
    // every other character as %xx>/roster/<user>.dat (one contact per user here).
    void add_contact(const std::string& user, const std::string& contact) {
        std::string host;
        for (unsigned char c : domain_) {
            if (std::isalnum(c)) {
                host += static_cast<char>(c);
            } else {
                char hex[4];
                std::snprintf(hex, sizeof hex, "%%%02x", c);
                host += hex;
            }
        }
        const auto folder = dir_ / "data" / host / "roster";
        fs::create_directories(folder);
        ward::test::write_text_file(folder / (user + ".dat"), "return { [\"" + contact + "@" + domain_ +
                                                                 "\"] = { subscription = \"both\"; groups = {}; }; };\n");
    }

    fs::path dir_;
    std::string domain_;
    std::uint16_t c2s_ = 0;
    std::uint16_t s2s_ = 0;
    std::uint16_t http_ = 0;
    std::unique_ptr<BackgroundProcess> process_;  // stopped (TERM, then KILL) on destruction
};

}  // namespace ward::e2e
