// SPDX-License-Identifier: Apache-2.0
#pragma once
// stunnel4 in front of Debian's sipp (built without TLS) for the SIP e2e tests.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/background_process.hpp"
#include "tests/support/net_test_support.hpp"
#include "tests/support/tls_test_support.hpp"

namespace ward::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// stunnel4 in client mode: accepts plaintext from sipp on a reserved port, connects to ward,
// verifies ward's certificate (server.test, the test CA) and presents `cert` (none: nullptr).
class StunnelClient {
public:
    StunnelClient(const fs::path& dir, const test::TestPki& pki, std::uint16_t ward_port, const test::CertFiles* cert) {
        constexpr int kPortAttempts = 3;  // a reserved port can be taken by another process first
        for (int attempt = 0; attempt < kPortAttempts && !process_; ++attempt) {
            port_ = test::reserve_port();
            REQUIRE(port_ != 0);
            std::string conf = "foreground = yes\n"
                               "pid =\n"
                               "debug = info\n"
                               "[sip]\n"
                               "client = yes\n";
            conf += "accept = 127.0.0.1:" + std::to_string(port_) + "\n";
            conf += "connect = 127.0.0.1:" + std::to_string(ward_port) + "\n";
            if (cert) conf += "cert = " + cert->cert.string() + "\nkey = " + cert->key.string() + "\n";
            conf += "CAfile = " + pki.ca().cert.string() + "\n";
            conf += "verifyChain = yes\n"
                    "checkHost = server.test\n"
                    "sni = server.test\n";
            const auto file = dir / ("stunnel-" + std::to_string(port_) + ".conf");
            test::write_text_file(file, conf);
            auto p = std::make_unique<test::BackgroundProcess>(std::vector<std::string>{"stunnel4", file.string()});
            REQUIRE_MESSAGE(p->started(), p->describe());
            // stunnel says when it listens ("Service [sip] (FD=8) bound to 127.0.0.1:PORT").
            if (p->wait_for_output("bound to 127.0.0.1:" + std::to_string(port_), 10s)) {
                process_ = std::move(p);
            } else {
                REQUIRE_MESSAGE(p->wait_exit(2s).has_value(), "stunnel neither listens nor exits:\n" << p->describe());
                MESSAGE("stunnel could not listen on a reserved port; trying another:\n" << p->describe());
            }
        }
        REQUIRE_MESSAGE(process_ != nullptr, "stunnel did not start");
    }

    std::uint16_t port() const { return port_; }
    test::BackgroundProcess& process() { return *process_; }
    std::string log() const { return process_->output(); }

private:
    std::uint16_t port_ = 0;
    std::unique_ptr<test::BackgroundProcess> process_;
};

}  // namespace ward::e2e
