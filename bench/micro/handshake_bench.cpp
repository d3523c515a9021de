// SPDX-License-Identifier: Apache-2.0
// The handshake hot path, in process: ward's production ContextBuilder makes the server
// context, a plain OpenSSL client connects over memory BIOs (no sockets). Full and resumed
// handshakes, TLS 1.2 and 1.3, ECDSA P-256 and RSA-2048. Besides Google Benchmark's wall
// time, every run reports the server side's CPU microseconds per handshake (the thread CPU
// clock around the server's calls only) and the handshakes per server CPU-second it implies.
#include <benchmark/benchmark.h>

#include <time.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config/loader.hpp"
#include "tls/context_builder.hpp"
#include "proxy/ops/pki.hpp"

namespace fs = std::filesystem;
using namespace ward;

namespace {

double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// A certificate and a context for one key type, built once per process.
struct Fixture {
    fs::path dir;
    std::shared_ptr<const tls::Context> server;
    tls::UniqueSslCtx client;

    explicit Fixture(bool rsa) {
        dir = fs::temp_directory_path() / ("ward-bench-" + std::to_string(std::random_device{}()));
        fs::create_directories(dir / "trust");
        ops::CertSpec ca_spec;
        ca_spec.common_names = {"bench CA"};
        ca_spec.is_ca = true;
        auto ca = ops::issue_certificate(ca_spec, nullptr);
        ops::CertSpec leaf;
        leaf.common_names = {"bench.test"};
        leaf.dns_names = {"bench.test"};
        if (rsa) {
            leaf.key.kind = ops::KeySpec::Kind::rsa;
            leaf.key.rsa_bits = 2048;
        }
        auto cred = ops::issue_certificate(leaf, &ca.value());
        if (!ca || !cred) throw std::runtime_error("cannot issue the benchmark certificates");
        (void)ops::write_certificate_pem(dir / "trust" / "ca.pem", ca->cert.get());
        (void)ops::write_certificate_pem(dir / "server.pem", cred->cert.get());
        (void)ops::write_private_key_pem(dir / "server.key", cred->key.get());
        const std::string yaml =
            "certificates: { server: { cert: server.pem, key: server.key } }\n"
            "tls_contexts:\n"
            "  bench: { certificate: server, verify_peer: none,\n"
            "           ciphers: [TLS_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256],\n"
            "           groups: [P-256] }\n";
        auto loaded = config::load_string(yaml, dir / "ward.yaml");
        if (!loaded.config) throw std::runtime_error(loaded.diagnostics.to_string());
        tls::ContextBuilder builder(*loaded.config, loaded.diagnostics);
        server = builder.build(loaded.config->tls_contexts[0]);
        if (!server) throw std::runtime_error(loaded.diagnostics.to_string());

        client.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_load_verify_locations(client.get(), (dir / "trust" / "ca.pem").c_str(), nullptr);
        SSL_CTX_set_verify(client.get(), SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set1_groups_list(client.get(), "P-256");
        SSL_CTX_set_session_cache_mode(client.get(), SSL_SESS_CACHE_CLIENT);
    }
    ~Fixture() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

Fixture& fixture(bool rsa) {
    static Fixture ec(false);
    static Fixture r(true);
    return rsa ? r : ec;
}

struct Pair {
    tls::UniqueSsl server;
    tls::UniqueSsl client;
};

// Connects both ends through a BIO pair; nothing allocated beyond what OpenSSL needs.
Pair make_pair(Fixture& f, int version, SSL_SESSION* resume) {
    Pair p{f.server->new_server(), tls::UniqueSsl(SSL_new(f.client.get()))};
    SSL_set_connect_state(p.client.get());
    SSL_set_min_proto_version(p.client.get(), version);
    SSL_set_max_proto_version(p.client.get(), version);
    if (resume) SSL_set_session(p.client.get(), resume);
    BIO *a = nullptr, *b = nullptr;
    BIO_new_bio_pair(&a, 0, &b, 0);
    SSL_set_bio(p.server.get(), a, a);
    SSL_set_bio(p.client.get(), b, b);
    return p;
}

// Runs the handshake to completion, adding the server's CPU time to `server_us`. For TLS 1.3
// the client also reads the server's NewSessionTicket (the server writes it as part of its
// handshake flight), as a real client would before resuming.
bool handshake(Pair& p, double& server_us) {
    bool server_done = false, client_done = false;
    for (int round = 0; round < 64 && !(server_done && client_done); ++round) {
        if (!client_done) {
            const int r = SSL_do_handshake(p.client.get());
            if (r == 1) client_done = true;
            else if (SSL_get_error(p.client.get(), r) != SSL_ERROR_WANT_READ) return false;
        }
        if (!server_done) {
            const double t0 = thread_cpu_us();
            const int r = SSL_do_handshake(p.server.get());
            server_us += thread_cpu_us() - t0;
            if (r == 1) server_done = true;
            else if (SSL_get_error(p.server.get(), r) != SSL_ERROR_WANT_READ) return false;
        }
    }
    // Let the client take any ticket the server sent.
    char byte;
    SSL_read(p.client.get(), &byte, 1);
    ERR_clear_error();
    return server_done && client_done;
}

void run(benchmark::State& state, bool rsa, int version, bool resumed) {
    auto& f = fixture(rsa);
    SSL_SESSION* session = nullptr;
    if (resumed) {
        double ignored = 0;
        auto first = make_pair(f, version, nullptr);
        if (!handshake(first, ignored)) {
            state.SkipWithError("first handshake failed");
            return;
        }
        session = SSL_get1_session(first.client.get());
        // A session whose connection was not shut down properly is not resumable.
        SSL_shutdown(first.client.get());
        SSL_shutdown(first.server.get());
    }
    double server_us = 0;
    std::int64_t reused = 0;
    for (auto _ : state) {
        auto p = make_pair(f, version, session);
        if (!handshake(p, server_us)) {
            state.SkipWithError("handshake failed");
            break;
        }
        if (SSL_session_reused(p.client.get())) ++reused;
        if (resumed && version == TLS1_3_VERSION) {
            // TLS 1.3 tickets are single-use by design: keep the newest.
            SSL_SESSION_free(session);
            session = SSL_get1_session(p.client.get());
        }
        // Orderly close on both sides, as a real session ends.
        SSL_shutdown(p.client.get());
        const double t0 = thread_cpu_us();
        SSL_shutdown(p.server.get());
        server_us += thread_cpu_us() - t0;
    }
    SSL_SESSION_free(session);
    const auto n = static_cast<double>(state.iterations());
    state.counters["server_cpu_us"] = benchmark::Counter(server_us / n);
    state.counters["handshakes_per_server_cpu_s"] = benchmark::Counter(n / (server_us / 1e6));
    state.counters["handshakes_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
    state.counters["resumed_fraction"] = benchmark::Counter(static_cast<double>(reused) / n);
    if (resumed && reused < state.iterations()) state.SkipWithError("not every handshake was resumed");
}

}  // namespace

#define WARD_HANDSHAKE_BENCH(name, rsa, version, resumed)                                  \
    static void name(benchmark::State& state) { run(state, rsa, version, resumed); }     \
    BENCHMARK(name)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime()

WARD_HANDSHAKE_BENCH(full_tls13_ecdsa_p256, false, TLS1_3_VERSION, false);
WARD_HANDSHAKE_BENCH(full_tls12_ecdsa_p256, false, TLS1_2_VERSION, false);
WARD_HANDSHAKE_BENCH(full_tls13_rsa2048, true, TLS1_3_VERSION, false);
WARD_HANDSHAKE_BENCH(full_tls12_rsa2048, true, TLS1_2_VERSION, false);
WARD_HANDSHAKE_BENCH(resumed_tls13_ecdsa_p256, false, TLS1_3_VERSION, true);
WARD_HANDSHAKE_BENCH(resumed_tls12_ecdsa_p256, false, TLS1_2_VERSION, true);

BENCHMARK_MAIN();
