// SPDX-License-Identifier: Apache-2.0
// Every shipped example and every configuration in tests/e2e/configs, through the real binary:
// what `ward check` accepts, `ward run` serves without falling over when each listener gets a
// connection; what it refuses, it refuses with file:line:col. (A configuration that `ward check`
// accepted once crashed ward on the first connection.)
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::run_process;
using ward::test::ward_binary;

namespace {

std::vector<fs::path> configurations() {
    std::vector<fs::path> out;
    for (const auto* dir : {"deploy/examples", "tests/e2e/configs"})
        for (const auto& e : fs::directory_iterator(fs::path(WARD_SOURCE_DIR) / dir))
            if (e.path().extension() == ".yaml") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

bool expected_invalid(const fs::path& file) { return file.filename().string().ends_with(".invalid.yaml"); }

// Binds on port 0 (tests use no fixed port); everything else as written.
std::string on_port_zero(const std::string& yaml) {
    static const std::regex bind(R"((bind:\s*'?)(\[[^\]]+\]|[^\s,:'}]+):[0-9]+)");
    return std::regex_replace(yaml, bind, "$1$2:0");
}

// The names of the listeners ward logged as bound.
std::set<std::string> bound_listeners(const std::string& log) {
    static const std::regex line(R"(info \[proxy\] listener (\S+) \()");
    std::set<std::string> out;
    for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) out.insert((*it)[1]);
    return out;
}

// One connection that says something no listener expects, then waits (bounded) for ward to
// answer or close it.
void poke(std::uint16_t port) {
    const int fd = ward::test::connect_tcp(port);
    REQUIRE(fd >= 0);
    CHECK(ward::test::send_raw(fd, "GET / HTTP/1.0\r\n\r\n<?xml version='1.0'?>\r\n\r\n"));
    ward::test::wait_closed(fd, 5s);
    ::close(fd);
}

}  // namespace

TEST_CASE("configurations: what ward check accepts ward serves - what it refuses it names at file:line:col") {
    const auto files = configurations();
    REQUIRE(files.size() >= 7);
    for (const auto& source : files) {
        CAPTURE(source.string());
        ward::test::TempDir dir("configs");
        const auto init = run_process({ward_binary(), "pki", "init", (dir.path() / "pki").string()});
        REQUIRE(init.exit_code == 0);
        const auto sibling = source.parent_path() / "banner.txt";
        if (fs::exists(sibling)) fs::copy_file(sibling, dir.path() / "banner.txt");
        const auto file = dir.path() / source.filename();
        ward::test::write_text_file(file, on_port_zero(ward::test::read_text_file(source)));

        const auto check = run_process({ward_binary(), "check", "-c", file.string()});
        INFO("ward check: " << check.out << check.err);
        if (expected_invalid(source)) {
            CHECK(check.exit_code == 78);
            CHECK(std::regex_search(check.err, std::regex(std::regex_replace(file.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"),
                                                                             R"(\$&)") +
                                                          R"(:[0-9]+:[0-9]+: error: )")));
            continue;
        }
        REQUIRE(check.exit_code == 0);

        ward::test::WardProcess ward(file);
        INFO("ward log:\n" << ward.log());
        const auto listeners = bound_listeners(ward.log());
        CHECK_FALSE(listeners.empty());
        for (const auto& name : listeners) {
            CAPTURE(name);
            poke(ward.port(name));
        }
        // The admin API too, when the configuration serves it.
        std::smatch admin;
        const auto log = ward.log();
        std::optional<std::uint16_t> admin_port;
        if (std::regex_search(log, admin, std::regex(R"(admin API on https://127\.0\.0\.1:(\d+)/)"))) {
            admin_port = static_cast<std::uint16_t>(std::stoi(admin[1]));
            poke(*admin_port);
        }
        // Still up, and still accepting on every listener.
        CHECK_FALSE(ward.process().exited());
        if (admin_port) CHECK(ward::test::wait_for_port(*admin_port, 5s));
        for (const auto& name : listeners) {
            CAPTURE(name);
            CHECK(ward::test::wait_for_port(ward.port(name), 5s));
        }
        REQUIRE(ward.process().signal(SIGTERM));
        CHECK(ward.process().wait_exit(15s) == 0);
    }
}
