// SPDX-License-Identifier: Apache-2.0
// Started as root with `user:` set, ward binds, then drops to that user before it serves.
#include <doctest/doctest.h>

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

// The Uid: or Gid: line of /proc/PID/status: real, effective, saved, filesystem.
std::string id_line(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) return line;
    return {};
}

}  // namespace

TEST_CASE("privileges e2e: ward started as root with user set binds then runs as that user") {
    if (::geteuid() != 0) {
        MESSAGE("not root: nothing to drop (CI runs as root)");
        return;
    }
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody);
    ward::test::TempDir dir{"e2e-privileges"};
    ward::test::TestPki pki{dir.path() / "pki"};
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::echo);
    std::string yaml = ward::e2e::pki_sections();
    yaml += "user: nobody\n"
            "tls_contexts:\n  web: { certificate: server, verify_peer: none }\n"
            "metrics: { enabled: false }\n"
            "listeners:\n  - { name: relay, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
            backend.endpoint() + "'], tls_context: web }\n";
    ward::test::WardProcess ward(ward::e2e::write_config(dir.path(), yaml));
    CHECK(ward.wait_for_log("dropped privileges to nobody"));
    const auto uid = std::to_string(nobody->pw_uid);
    const auto gid = std::to_string(nobody->pw_gid);
    CHECK(id_line(ward.pid(), "Uid") == "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid);
    CHECK(id_line(ward.pid(), "Gid") == "Gid:\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid);

    // Every thread, the workers included, runs as nobody, and the proxy still serves.
    ward::test::PeerOptions o;
    o.trust_ca = pki.ca().cert;
    auto ctx = ward::test::make_peer_ctx(o);
    ward::test::TlsClient client(ward.port("relay"), ctx.get());
    REQUIRE_MESSAGE(client.ok(), client.error());
    CHECK(client.send("as nobody"));
    CHECK(client.read(9) == "as nobody");
}
