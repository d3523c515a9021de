// SPDX-License-Identifier: Apache-2.0
// The ward binary, as operators run it: check on the shipped example, exit statuses, pki,
// certificate import, and fips mode against the real FIPS provider.
#include <doctest/doctest.h>

#include <regex>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tls/library.hpp"
#include "e2e_helpers.hpp"
#include "../support/process.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using ward::test::run_process;
using ward::test::ward_binary;

namespace {

struct Workdir {
    ward::test::TempDir dir{"e2e"};
    const fs::path& path = dir.path();
};

using ward::e2e::fips_module_dir;

// The shipped example, copied next to a fresh development PKI.
fs::path example_setup(const Workdir& w) {
    const fs::path examples = fs::path(WARD_SOURCE_DIR) / "deploy" / "examples";
    fs::copy_file(examples / "ward.yaml", w.path / "ward.yaml");
    fs::copy_file(examples / "banner.txt", w.path / "banner.txt");
    auto init = run_process({ward_binary(), "pki", "init", (w.path / "pki").string()});
    INFO(init.err);
    REQUIRE(init.exit_code == 0);
    return w.path / "ward.yaml";
}

}  // namespace

TEST_CASE("ward check passes the shipped example configuration") {
    Workdir w;
    const auto config = example_setup(w);
    auto r = run_process({ward_binary(), "check", "-c", config.string()});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == config.string() + ": configuration is valid (standard mode, 4 TLS contexts, 7 listeners)\n");
}

TEST_CASE("ward check reports every problem and exits 78") {
    Workdir w;
    const auto config = example_setup(w);
    {
        std::ofstream out(config, std::ios::app);
        out << "bogus_section: 1\n";
    }
    // A cipher name OpenSSL does not know and a key that belongs to another certificate.
    auto text = [&] {
        std::ifstream in(config);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    text.replace(text.find("TLS_AES_128_GCM_SHA256"), 22, "TLS_AES_128_GCM_SHA999");
    text.replace(text.find("key: pki/sip.key"), 16, "key: pki/xmpp.key");
    std::ofstream(config, std::ios::trunc) << text;

    auto r = run_process({ward_binary(), "check", "-c", config.string()});
    CHECK(r.exit_code == 78);
    const auto f = config.string();
    // Where the two edits are in the example (which may change): line:column as ward prints it.
    auto at = [&](std::string_view needle, int occurrence) {
        const auto m = ward::test::mark_of(text, needle, occurrence);
        return ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
    };
    INFO(r.err);
    CHECK(r.err.find(f + at("pki/xmpp.key", 1) + "error: certificates.sip.key: key '" + (w.path / "pki/xmpp.key").string() +
                     "' does not match certificate") != std::string::npos);
    CHECK(r.err.find(f + at("TLS_AES_128_GCM_SHA999", 0) +
                     "error: tls_contexts.Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context.ciphers[1]: "
                     "'TLS_AES_128_GCM_SHA999' is not a TLS cipher known to " + ward::tls::tls_library_name()) !=
          std::string::npos);
    CHECK(r.err.find("error: bogus_section: unknown key 'bogus_section'") != std::string::npos);
    CHECK(r.err.find(f + ": configuration is not valid\n") != std::string::npos);
}

TEST_CASE("usage errors exit 64 - --help exits 0") {
    CHECK(run_process({ward_binary()}).exit_code == 64);
    CHECK(run_process({ward_binary(), "frobnicate"}).exit_code == 64);
    CHECK(run_process({ward_binary(), "check"}).exit_code == 64);
    for (const char* cmd : {"check", "run", "pki", "cert", "ciphers"}) {
        auto r = run_process({ward_binary(), cmd, "--help"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("usage: ward ", 0) == 0);
    }
}

TEST_CASE("ward --version names the TLS library it runs on - the one the openssl command loads") {
    const auto r = run_process({ward_binary(), "--version"});
    CHECK(r.exit_code == 0);
    if (!ward::test::kLibrary.openssl) {
        // The wolfSSL flavour: the library ward is linked with (ldd, not ward's word for it) and
        // the GPL it brings.
        const auto ldd = run_process({"ldd", ward_binary()});
        CHECK(ldd.out.find("libwolfssl.so") != std::string::npos);
        CHECK(ldd.out.find("libssl.so") == std::string::npos);
        CHECK(r.out.rfind("ward 0.1.0\nTLS: " + ward::tls::tls_library_name() + ", GPL-2.0-or-later", 0) == 0);
        return;
    }
    // `openssl version`: "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)", the
    // library part only when it differs from the command's own.
    const auto openssl = run_process({"openssl", "version"});
    std::smatch m;
    std::string library = openssl.out.substr(0, openssl.out.find('\n'));
    if (std::regex_search(openssl.out, m, std::regex(R"(\(Library: ([^)]+)\))"))) library = m[1].str();
    CHECK(r.out.rfind("ward 0.1.0\nTLS: " + library, 0) == 0);
    CHECK(r.out.find(", Apache-2.0\n") != std::string::npos);
}

TEST_CASE("ward pki issue and ward cert import: the CLI prints what changed - and a second import nothing") {
    Workdir w;
    const auto config = example_setup(w);
    auto issue = run_process({ward_binary(), "pki", "issue", "--ca-dir", (w.path / "pki").string(), "--cn",
                              "trunk.example.net", "--client-only", "--out", (w.path / "trunk").string()});
    INFO(issue.err);
    REQUIRE(issue.exit_code == 0);
    CHECK(issue.out.find("wrote " + (w.path / "trunk.pem").string()) != std::string::npos);

    auto first = run_process({ward_binary(), "cert", "import", "-c", config.string(), "--store", "sip-trust",
                              "--description", "trunk to the PSTN", (w.path / "trunk.pem").string()});
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(first.out.find("added 'trunk.example.net' to tls_peer_subjects\n") != std::string::npos);
    CHECK(first.out.find("selected 'trunk.example.net' in TLS context 'Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context'\n") !=
          std::string::npos);

    auto second = run_process({ward_binary(), "cert", "import", "-c", config.string(), "--store", "sip-trust",
                               (w.path / "trunk.pem").string()});
    CHECK(second.exit_code == 0);
    CHECK(second.out.rfind("nothing changed: CN=trunk.example.net", 0) == 0);

    // The rewritten configuration is still valid.
    auto check = run_process({ward_binary(), "check", "-c", config.string()});
    INFO(check.err);
    CHECK(check.exit_code == 0);
}

TEST_CASE("fips mode: ward check loads the real FIPS provider - without one it refuses and says how to install it" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    Workdir w;
    const auto config = example_setup(w);
    auto text = [&] {
        std::ifstream in(config);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    // The example selects X25519, which fips mode forbids; P-256 is approved.
    text.replace(text.find("mode: standard"), 14, "mode: fips\n  fips_module_dir: " + fips_module_dir());
    text.replace(text.find("groups: [X25519, P-256]"), 23, "groups: [P-256]");
    std::ofstream(config, std::ios::trunc) << text;
    auto ok = run_process({ward_binary(), "check", "-c", config.string()});
    INFO(ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.find("(fips mode, ") != std::string::npos);
    // It names the provider it loaded, and says that this one (built from Debian's source) is
    // not a validated version.
    CHECK(std::regex_search(ok.err, std::regex(R"(warning: security\.fips_module_dir: OpenSSL FIPS Provider 3\.\d+\.\d+[^:]*: )"
                                               R"(not a validated version \(3\.0\.8 and 3\.0\.9 under FIPS 140-2 certificate #4282, )"
                                               R"(3\.1\.2 under FIPS 140-3 certificate #4985\); good for testing, not for a FIPS 140 claim)")));

    const auto empty = w.path / "no-provider";
    fs::create_directories(empty);
    text.replace(text.find(fips_module_dir()), fips_module_dir().size(), empty.string());
    std::ofstream(config, std::ios::trunc) << text;
    auto missing = run_process({ward_binary(), "check", "-c", config.string()});
    CHECK(missing.exit_code == 78);
    CHECK(missing.err.find("error: security.fips_module_dir: fips mode needs the OpenSSL FIPS provider: ") !=
          std::string::npos);
    CHECK(missing.err.find("build-provider.sh") != std::string::npos);

    text.replace(text.find("mode: fips"), 10, "mode: fips\n  fips_provider: policy-only");
    std::ofstream(config, std::ios::trunc) << text;
    auto policy_only = run_process({ward_binary(), "check", "-c", config.string()});
    CHECK(policy_only.exit_code == 0);
    CHECK(policy_only.err.find("warning: security.fips_provider: policy-only:") != std::string::npos);
}

TEST_CASE("fips mode rejects a configuration that asks for ChaCha20-Poly1305 - naming the rule" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    Workdir w;
    const auto config = example_setup(w);
    auto text = [&] {
        std::ifstream in(config);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    text.replace(text.find("mode: standard"), 14, "mode: fips\n  fips_module_dir: " + fips_module_dir());
    text.replace(text.find("TLS_AES_128_GCM_SHA256"), 22, "TLS_CHACHA20_POLY1305_SHA256");
    std::ofstream(config, std::ios::trunc) << text;
    auto r = run_process({ward_binary(), "check", "-c", config.string()});
    CHECK(r.exit_code == 78);
    CHECK(r.err.find("ciphers[1]: 'TLS_CHACHA20_POLY1305_SHA256' is not allowed in fips mode: ChaCha20-Poly1305 is "
                     "not a FIPS-approved cipher") != std::string::npos);
    CHECK(r.err.find("groups[0]: 'X25519' is not allowed in fips mode") != std::string::npos);
}
