// SPDX-License-Identifier: Apache-2.0
#include "etcd_server.hpp"

#include <csignal>

#include <doctest/doctest.h>

namespace ward::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

EtcdServer::EtcdServer(const fs::path& dir, std::optional<EtcdTls> tls) : dir_(dir), tls_(std::move(tls)) {
    fs::create_directories(dir_);
    client_port_ = reserve_port();
    peer_port_ = reserve_port();
    start();
}

EtcdServer::~EtcdServer() { stop(); }

std::string EtcdServer::url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(client_port_);
}

std::string EtcdServer::log() const { return earlier_log_ + (process_ ? process_->output() : std::string()); }

void EtcdServer::start() {
    REQUIRE_FALSE(process_);
    const auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> argv = {"etcd",
                                     "--name", "ward-test",
                                     "--data-dir", (dir_ / "data").string(),
                                     "--listen-client-urls", url(),
                                     "--advertise-client-urls", url(),
                                     "--listen-peer-urls", peer,
                                     "--initial-advertise-peer-urls", peer,
                                     "--initial-cluster", "ward-test=" + peer,
                                     "--heartbeat-interval", "50",
                                     "--election-timeout", "500"};
    if (tls_) {
        argv.insert(argv.end(), {"--cert-file", tls_->cert.string(), "--key-file", tls_->key.string()});
        if (tls_->client_cert_auth)
            argv.insert(argv.end(), {"--client-cert-auth", "--trusted-ca-file", tls_->ca.string()});
    }
    process_ = std::make_unique<BackgroundProcess>(argv);
    REQUIRE_MESSAGE(process_->started(), process_->error());
    const auto ready = process_->wait_for_output("ready to serve client requests", 20s);
    REQUIRE_MESSAGE(ready.has_value(), "etcd did not start:\n" << process_->output());
    REQUIRE_MESSAGE(wait_for_port(client_port_, 10s), "etcd does not accept connections:\n" << process_->output());
}

void EtcdServer::stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait_exit(10s);
    earlier_log_ += process_->output();
    process_.reset();  // (SIGKILL and reaped by the destructor if it still ran)
}

}  // namespace ward::test
