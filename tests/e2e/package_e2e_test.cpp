// SPDX-License-Identifier: Apache-2.0
// The Debian package as an operator gets it: CPack builds it from this build folder, lintian
// finds no error in it, it holds what the README's "Deploy" section says, and the
// configuration it installs is valid once certificates are in place.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/e2e_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;

}  // namespace

// The Debian package and the container image are the OpenSSL flavour: Debian's libssl3 and the
// FIPS provider, Apache-2.0. The wolfSSL flavour (GPL, wolfSSL built from source into a prefix of
// ward's own) is built by the operator; these tests skip there.
TEST_CASE("package e2e: the Debian package is lintian-clean of errors - holds the unit and configuration - its configuration checks" *
          doctest::skip(ward::tls::flavour::kName != "openssl")) {
    ward::test::TempDir dir{"e2e-package"};
    const auto made = ward::test::run_process(
        {"cpack", "-G", "DEB", "-B", dir.path().string(), "--config", std::string(WARD_BUILD_DIR) + "/CPackConfig.cmake"},
        300s);
    REQUIRE_MESSAGE(made.exit_code == 0, made.out << made.err);
    fs::path deb;
    for (const auto& e : fs::directory_iterator(dir.path()))
        if (e.path().extension() == ".deb") deb = e.path();
    REQUIRE_FALSE(deb.empty());

    const auto lint = ward::test::run_process({"lintian", "--fail-on", "error", deb.string()}, 300s);
    INFO(lint.out << lint.err);
    CHECK(lint.exit_code == 0);
    CHECK_FALSE(contains("\n" + lint.out, "\nE: "));

    const auto listing = ward::test::run_process({"dpkg-deb", "-c", deb.string()}, 60s);
    REQUIRE(listing.exit_code == 0);
    for (const char* path : {"./usr/bin/ward", "./lib/systemd/system/ward.service", "./usr/lib/sysusers.d/ward.conf",
                             "./etc/ward/ward.yaml", "./etc/ward/banner.txt", "./usr/share/doc/ward/copyright",
                             "./usr/share/doc/ward/THIRD-PARTY-NOTICES.md", "./usr/share/doc/ward/changelog.gz",
                             "./usr/share/man/man1/ward.1.gz"})
        CHECK_MESSAGE(contains(listing.out, std::string(path) + "\n"), path);
    const auto conffiles = ward::test::run_process({"dpkg-deb", "-I", deb.string(), "conffiles"}, 60s);
    CHECK(conffiles.out == "/etc/ward/ward.yaml\n/etc/ward/banner.txt\n");
    const auto control = ward::test::run_process({"dpkg-deb", "-f", deb.string(), "Depends"}, 60s);
    CHECK(contains(control.out, "adduser"));
    CHECK(contains(control.out, "libssl3"));

    // Unpacked: the packaged binary runs, and the packaged configuration is valid with a PKI.
    const auto root = dir.path() / "root";
    REQUIRE(ward::test::run_process({"dpkg-deb", "-x", deb.string(), root.string()}, 60s).exit_code == 0);
    const auto ward = (root / "usr/bin/ward").string();
    const auto pki = ward::test::run_process({ward, "pki", "init", (root / "etc/ward/pki").string()}, 60s);
    REQUIRE_MESSAGE(pki.exit_code == 0, pki.out << pki.err);
    const auto check = ward::test::run_process({ward, "check", "-c", (root / "etc/ward/ward.yaml").string()}, 60s);
    CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
    CHECK(contains(check.out, "configuration is valid (standard mode, 3 TLS contexts, 5 listeners)"));
}
