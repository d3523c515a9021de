// SPDX-License-Identifier: Apache-2.0
#pragma once
// Debian's etcd (etcd-server 3.4) for the tests: one member on 127.0.0.1, its data in a folder
// of the test's, plaintext or TLS (client certificates required when asked). It can be stopped
// and started again on the same port with the same data, as an operator's restart would.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "background_process.hpp"

namespace ward::test {

struct EtcdTls {
    std::filesystem::path cert;  // the server's certificate and key
    std::filesystem::path key;
    std::filesystem::path ca;    // the CA client certificates must chain to
    bool client_cert_auth = true;
};

class EtcdServer {
public:
    // Starts etcd (REQUIREs that it serves within the deadline).
    explicit EtcdServer(const std::filesystem::path& dir, std::optional<EtcdTls> tls = std::nullopt);
    ~EtcdServer();
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;

    std::uint16_t port() const { return client_port_; }
    // "http://127.0.0.1:PORT" (https with TLS).
    std::string url() const;
    // SIGTERM, reaped; the data stays.
    void stop();
    // Starts it again on the same ports with the same data (REQUIREs that it serves).
    void start();
    bool running() const { return process_ != nullptr; }
    std::string log() const;

private:
    std::filesystem::path dir_;
    std::optional<EtcdTls> tls_;
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
    std::unique_ptr<BackgroundProcess> process_;
    std::string earlier_log_;
};

}  // namespace ward::test
