// SPDX-License-Identifier: Apache-2.0
// Configuration of exchange-egress listeners: exact diagnostics, defaults, the credentials
// file's mode, and the write-back round trip.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace ward::config;

namespace {

using ward::test::lines_of;

struct Folder {
    ward::test::TempDir dir{"config-exchange"};
    const fs::path& path = dir.path();
    Folder() {
        fs::create_directories(path / "trust");
        ward::test::write_text_file(path / "ews.credentials", "user=presence\npassword=secret\n");
        ::chmod((path / "ews.credentials").c_str(), 0600);
        ward::test::write_text_file(path / "open.credentials", "user=presence\npassword=secret\n");
        ::chmod((path / "open.credentials").c_str(), 0644);
    }
};

const std::string kContexts =
    "trust_stores: { t: { dir: trust } }\n"
    "tls_contexts: { ews: { trust_store: t }, bare: { verify_peer: none } }\n";

}  // namespace

TEST_CASE("exchange-egress: defaults and the round trip") {
    Folder f;
    const std::string yaml = kContexts +
                             "listeners:\n"
                             "  - name: ews\n    protocol: exchange-egress\n    bind: 127.0.0.1:8080\n"
                             "    backends: [exchange.example.com:443]\n    tls_context: ews\n"
                             "    exchange: { credentials_file: ews.credentials, domain: EXAMPLE }\n";
    auto r = load_string(yaml, f.path / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    const auto& e = *r.config->listeners.at(0).exchange;
    CHECK(e.auth == ExchangeAuth::automatic);
    CHECK(e.domain == "EXAMPLE");
    CHECK(e.workstation == "WARD");
    CHECK(e.credentials_file.resolved == f.path / "ews.credentials");
    CHECK(e.pool_size == 8);
    // Written back and read again: the same model.
    auto modified = *r.config;
    modified.listeners[0].exchange->auth = ExchangeAuth::basic_only;
    modified.listeners[0].exchange->pool_size = 2;
    modified.listeners[0].exchange->request_timeout = std::chrono::seconds(5);
    const auto text = to_yaml(modified);
    auto again = load_string(text, f.path / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->listeners == modified.listeners);
    CHECK(text.find("secret") == std::string::npos);
}

TEST_CASE("exchange-egress: every mistake is reported at its place") {
    Folder f;
    const std::string yaml = kContexts +
        "listeners:\n"
        "  - name: a\n    protocol: exchange-egress\n    bind: 0.0.0.0:8080\n    backends: [ews.example:443]\n"
        "    tls_context: bare\n"
        "    exchange: { auth: ntlm, credentials_file: open.credentials, domain: 'EX AMPLE', pool_size: 2000 }\n"
        "  - name: b\n    protocol: exchange-egress\n    bind: 127.0.0.1:8081\n    backends: [ews.example:443]\n"
        "    tls_context: ews\n"
        "  - name: c\n    protocol: tls-outbound\n    bind: 127.0.0.1:8082\n    backends: [ews.example:443]\n"
        "    tls_context: ews\n    exchange: { credentials_file: missing.credentials }\n";
    auto r = load_string(yaml, f.path / "x.yaml");
    const auto file = (f.path / "x.yaml").string();
    const auto open = (f.path / "open.credentials").string();
    const auto missing = (f.path / "missing.credentials").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":9:23: error: listeners[0].exchange.auth: 'ntlm' is not an Exchange authentication setting (auto, basic-only)",
        file + ":9:47: error: listeners[0].exchange.credentials_file: '" + open +
            "' can be read or written by others than its owner; make it mode 0600 (chmod 600)",
        file + ":9:73: error: listeners[0].exchange.domain: 'EX AMPLE' is not a domain or workstation name (no spaces, "
               "control characters, '\\', '/', ':' or '@'; at most 255 bytes)",
        file + ":9:96: error: listeners[0].exchange.pool_size: '2000' is not a pool size (0 to 1024 connections)",
        file + ":20:35: error: listeners[2].exchange.credentials_file: file '" + missing + "' does not exist",
        file + ":6:11: error: listeners[0].bind: a exchange-egress listener accepts plaintext, so it must bind to a loopback address",
        file + ":8:18: error: listeners[0].tls_context: context 'bare' has no trust_store to verify the Exchange server with",
        file + ":10:5: error: listeners[1].exchange: an exchange-egress listener needs exchange: { credentials_file, ... }",
        file + ":20:15: error: listeners[2].exchange: exchange options apply only to exchange-egress listeners",
    }));
}
