// SPDX-License-Identifier: Apache-2.0
// ward as a systemd service, without a systemd to run it (the machine's PID 1 is not systemd):
// the readiness protocol against a NOTIFY_SOCKET the test listens on (READY, RELOADING with
// MONOTONIC_USEC, READY after a good and after a failed reload, STOPPING), and the unit file
// as `systemd-analyze verify` reads it.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"
#include "tests/support/tls_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;

// A datagram socket standing in for systemd's notification socket; sets NOTIFY_SOCKET for the
// programs this test starts.
class NotifySocket {
public:
    explicit NotifySocket(const fs::path& path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        REQUIRE(path.string().size() < sizeof a.sun_path);
        std::strcpy(a.sun_path, path.c_str());
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    // The next message, or "" when none came within the deadline.
    std::string next(std::chrono::milliseconds deadline = 15s) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(deadline.count())) != 1) return {};
        char buf[4096];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

private:
    int fd_ = -1;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("service e2e: ward tells the service manager it is ready - reloading - ready again - stopping") {
    ward::test::TempDir dir{"e2e-service"};
    ward::test::TestPki pki{dir.path() / "pki"};
    NotifySocket notify(dir.path() / "notify.sock");
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const std::string yaml = ward::e2e::pki_sections() +
                             "tls_contexts:\n  web: { certificate: server, verify_peer: none }\n"
                             "metrics: { enabled: false }\n"
                             "listeners:\n  - { name: relay, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                             backend.endpoint() + "'], tls_context: web }\n";
    const auto file = ward::e2e::write_config(dir.path(), yaml);
    ward::test::WardProcess ward(file);

    const auto ready = notify.next();
    CHECK(ready == "READY=1\nSTATUS=serving 1 listener, configuration generation 1");

    // A good reload.
    REQUIRE(ward.process().signal(SIGHUP));
    const auto reloading = notify.next();
    INFO(reloading);
    CHECK(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
    CHECK(contains(reloading, "\nSTATUS=reloading " + file.string()));
    // MONOTONIC_USEC is CLOCK_MONOTONIC now (systemd compares it with its own clock).
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = std::stoull(reloading.substr(reloading.find("MONOTONIC_USEC=") + 15));
    const auto now_usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + now.tv_nsec / 1000;
    CHECK(usec <= now_usec);
    CHECK(now_usec - usec < 30ULL * 1000000ULL);
    CHECK(notify.next() == "READY=1\nSTATUS=configuration generation 2 in force");

    // A reload that fails: ward stays up on the running generation, and says so.
    ward::test::write_text_file(file, yaml + "listeners: [oops\n");
    REQUIRE(ward.process().signal(SIGHUP));
    CHECK(notify.next().rfind("RELOADING=1\n", 0) == 0);
    CHECK(notify.next() == "READY=1\nSTATUS=reload failed; generation 2 stays in force");

    REQUIRE(ward.process().signal(SIGTERM));
    CHECK(notify.next() == "STOPPING=1\nSTATUS=draining established sessions");
    CHECK(ward.process().wait_exit(30s) == 0);
}

TEST_CASE("service e2e: a stop waits for the sessions that relay - and closes the last at drain_timeout") {
    // A relaying session holds no coroutine of its front's (Session::start_relay): it still
    // counts as a session the stop drains, until it ends.
    ward::test::TempDir dir{"e2e-drain"};
    ward::test::TestPki pki{dir.path() / "pki"};
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    const std::string yaml = ward::e2e::pki_sections() +
                             "tls_contexts:\n  web: { certificate: server, verify_peer: none }\n"
                             "metrics: { enabled: false }\n"
                             "limits: { drain_timeout: 3s }\n"
                             "listeners:\n  - { name: relay, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                             backend.endpoint() + "'], tls_context: web }\n";
    const auto file = dir.path() / "ward.yaml";
    ward::test::write_text_file(file, yaml);
    ward::test::WardProcess ward(file);
    ward::test::PeerOptions options;
    options.trust_ca = pki.ca().cert;
    auto ctx = ward::test::make_peer_ctx(options);
    ward::test::TlsClient a(ward.port("relay"), ctx.get());
    REQUIRE_MESSAGE(a.ok(), a.error());
    ward::test::TlsClient b(ward.port("relay"), ctx.get());
    REQUIRE_MESSAGE(b.ok(), b.error());
    CHECK(a.send("one"));
    CHECK(a.read(3) == "one");
    CHECK(b.send("two"));
    CHECK(b.read(3) == "two");
    REQUIRE(ward.process().signal(SIGTERM));
    REQUIRE(ward.wait_for_log("stopping: no new connections"));
    // Both still relay while ward drains; one ends by itself, the other at the drain timeout.
    CHECK(a.send("three"));
    CHECK(a.read(5) == "three");
    a.shutdown();
    CHECK(a.wait_closed());
    CHECK(b.send("four"));
    CHECK(b.read(4) == "four");
    CHECK(b.wait_closed(15s));
    CHECK(ward.process().wait_exit(15s) == 0);
    CHECK(ward.wait_for_log("drain timeout: closing 1 session\n", 1s));
}

TEST_CASE("service e2e: the unit file passes systemd-analyze verify - with its hardening in place") {
    const fs::path unit = fs::path(WARD_SOURCE_DIR) / "deploy/systemd/ward.service";
    auto text = read_file(unit);
    REQUIRE_FALSE(text.empty());
    for (const char* line : {"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                             "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                             "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ReadWritePaths=/etc/ward /var/log/ward",
                             "User=ward"})
        CHECK_MESSAGE(contains(text, std::string("\n") + line + "\n"), line);
    // systemd-analyze checks that the programs exist: the copy names the binary under test.
    ward::test::TempDir dir{"e2e-unit"};
    for (auto at = text.find("/usr/bin/ward"); at != std::string::npos; at = text.find("/usr/bin/ward", at + 1))
        text.replace(at, 13, ward::test::ward_binary());
    const auto copy = dir.path() / "ward.service";
    ward::test::write_text_file(copy, text);
    const auto r = ward::test::run_process({"systemd-analyze", "verify", copy.string()}, 60s);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
}
