// SPDX-License-Identifier: Apache-2.0
// Real handshakes with the OpenSSL FIPS provider as the process default, as `security.mode: fips`
// makes it: ward's server side runs on FIPS implementations only. The other side is a plain
// OpenSSL client in its own library context with the default provider, so it can offer what
// FIPS forbids (ChaCha20-Poly1305, TLS 1.1, RSA-1024), the realistic case of a legacy peer.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "tests/support/tls_test_support.hpp"
#include "tls/fips_provider.hpp"

namespace {

namespace fs = std::filesystem;
using ward::test::CertFiles;
using ward::test::HandshakeResult;
using ward::test::PeerOptions;
using ward::test::TempDir;
using ward::test::TestPki;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// deploy/fips/build-provider.sh installs into the default; CI may point elsewhere.
fs::path module_dir() {
    if (const char* dir = std::getenv("WARD_FIPS_MODULE_DIR"); dir != nullptr && *dir != '\0') return dir;
    return ward::tls::kDefaultFipsModuleDir;
}

// Certificates are made once, before any case makes FIPS the default (doctest may run every
// case in one process): the FIPS provider would refuse to generate the RSA-1024 key.
struct SharedPki {
    TempDir dir{"fips-handshake"};
    TestPki pki{dir.path()};
    CertFiles client = pki.issue("client", TestPki::client_spec("client.test"));
    CertFiles rsa1024 = pki.issue("rsa1024", [] {
        auto spec = TestPki::client_spec("client.test");
        spec.key.kind = ward::ops::KeySpec::Kind::rsa;
        spec.key.rsa_bits = 1024;
        return spec;
    }());
};

SharedPki& shared() {
    static SharedPki pki;
    return pki;
}

// A library context with OpenSSL's default provider, for the peer.
class DefaultLibctx {
public:
    DefaultLibctx() : ctx_(OSSL_LIB_CTX_new()), provider_(ctx_ ? OSSL_PROVIDER_load(ctx_, "default") : nullptr) {}
    ~DefaultLibctx() {
        if (provider_) OSSL_PROVIDER_unload(provider_);
        OSSL_LIB_CTX_free(ctx_);
    }
    DefaultLibctx(const DefaultLibctx&) = delete;
    DefaultLibctx& operator=(const DefaultLibctx&) = delete;
    OSSL_LIB_CTX* get() const { return provider_ ? ctx_ : nullptr; }

private:
    OSSL_LIB_CTX* ctx_;
    OSSL_PROVIDER* provider_;
};

OSSL_LIB_CTX* peer_libctx() {
    static DefaultLibctx libctx;
    REQUIRE_MESSAGE(libctx.get() != nullptr, "no default provider: " << ward::test::drain_openssl_errors());
    return libctx.get();
}

std::string fips_yaml(const std::string& context_settings) {
    return "security:\n"
           "  mode: fips\n"
           "  fips_module_dir: " + module_dir().string() + "\n"
           "certificates:\n"
           "  server: { cert: server.pem, key: server.key }\n"
           "trust_stores:\n"
           "  peers: { dir: trust }\n"
           "tls_peer_subjects:\n"
           "  - subject: client.test\n"
           "tls_contexts:\n"
           "  peer:\n"
           "    certificate: server\n"
           "    trust_store: peers\n"
           "    peer_subjects: [client.test]\n" +
           context_settings;
}

// Loads the configuration as ward starts (activating FIPS) and checks the provider is on.
ward::test::LoadedConfig load_fips(const std::string& file_name, const std::string& context_settings = {}) {
    auto& s = shared();
    REQUIRE_MESSAGE(fs::exists(module_dir() / "fips.so"),
                    "no FIPS provider in " << module_dir().string() << "; run deploy/fips/build-provider.sh");
    auto loaded = ward::test::load_config(s.dir.path(), fips_yaml(context_settings), file_name);
    REQUIRE(ward::tls::fips_provider_active());
    return loaded;
}

// The client runs in a library context of its own with the default provider.
PeerOptions peer(const CertFiles* cert) {
    auto o = ward::test::client_options(shared().pki, cert);
    o.libctx = peer_libctx();
    return o;
}

using ward::test::handshake_with;

void check_refused(const HandshakeResult& r) {
    INFO(r.describe());
    CHECK_FALSE(r.server_ok);
    CHECK_FALSE(r.client_ok);
    CHECK_FALSE(r.data_exchanged);
    CHECK(r.verified_peer_subject.empty());
    REQUIRE_FALSE(r.server_alerts_sent.empty());
    CHECK(r.server_alerts_sent.front().rfind("fatal: ", 0) == 0);
}

}  // namespace

TEST_CASE("fips handshake: an ECDSA P-256 peer negotiates TLS 1.3 with AES-GCM") {
    auto& s = shared();
    const auto loaded = load_fips("fips-ok.yaml");

    const auto r = handshake_with(loaded.context("peer"), peer(&s.client));
    INFO(r.describe());
    CHECK(r.server_ok);
    CHECK(r.client_ok);
    CHECK(r.data_exchanged);
    CHECK(r.version == "TLSv1.3");
    CHECK((r.cipher == "TLS_AES_256_GCM_SHA384" || r.cipher == "TLS_AES_128_GCM_SHA256"));
    CHECK(r.verified_peer_subject == "client.test");
    CHECK(r.peer_refusal_reason.empty());

    // TLS 1.2 works too, with an approved ECDHE-ECDSA AES-GCM cipher.
    auto tls12 = peer(&s.client);
    tls12.max_version = TLS1_2_VERSION;
    const auto r12 = handshake_with(loaded.context("peer"), tls12);
    INFO(r12.describe());
    CHECK(r12.server_ok);
    CHECK(r12.client_ok);
    CHECK(r12.version == "TLSv1.2");
    CHECK((r12.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384" || r12.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256"));
    CHECK(r12.verified_peer_subject == "client.test");
}

TEST_CASE("fips handshake: a client offering only ChaCha20-Poly1305 is refused") {
    auto& s = shared();
    const auto loaded = load_fips("fips-chacha-client.yaml");

    auto tls13 = peer(&s.client);
    tls13.min_version = TLS1_3_VERSION;
    tls13.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
    const auto r = handshake_with(loaded.context("peer"), tls13);
    check_refused(r);
    INFO(r.describe());
    CHECK(r.client_alert == "handshake failure");
    CHECK(contains(r.server_errors, "no shared cipher"));

    auto tls12 = peer(&s.client);
    tls12.max_version = TLS1_2_VERSION;
    tls12.cipher_list = "ECDHE-ECDSA-CHACHA20-POLY1305";
    const auto r12 = handshake_with(loaded.context("peer"), tls12);
    check_refused(r12);
    INFO(r12.describe());
    CHECK(r12.client_alert == "handshake failure");
    CHECK(contains(r12.server_errors, "no shared cipher"));
}

TEST_CASE("fips handshake: a client with TLS 1.1 at most is refused") {
    auto& s = shared();
    const auto loaded = load_fips("fips-tls11.yaml");

    auto options = peer(&s.client);
    options.min_version = TLS1_VERSION;
    options.max_version = TLS1_1_VERSION;
    options.security_level = 0;  // OpenSSL 3 runs TLS 1.0 and 1.1 at level 0 only
    const auto r = handshake_with(loaded.context("peer"), options);
    check_refused(r);
    INFO(r.describe());
    CHECK_FALSE(r.client_handshake_returned);
    CHECK(r.client_alert == "protocol version");
    CHECK(contains(r.server_errors, "unsupported protocol"));
}

TEST_CASE("fips handshake: an RSA-1024 client certificate from the trusted CA is refused") {
    auto& s = shared();
    const auto loaded = load_fips("fips-rsa1024.yaml");

    auto options = peer(&s.rsa1024);
    options.security_level = 0;  // let the legacy peer load and use its key
    const auto r = handshake_with(loaded.context("peer"), options);
    check_refused(r);
    INFO(r.describe());
    // The context's security level 2 (112 bits) refuses the key while the chain is verified,
    // before ward's own rule ("RSA-1024 is too small") is reached; either way the key is named.
    CHECK(r.peer_refusal_reason ==
          "certificate verification failed: EE certificate key too weak (depth 0, /O=ward/CN=client.test)");
    CHECK(r.client_alert == "bad certificate");
}

TEST_CASE("fips handshake: a configuration selecting ChaCha20 is rejected at build") {
    auto& s = shared();
    REQUIRE_MESSAGE(fs::exists(module_dir() / "fips.so"),
                    "no FIPS provider in " << module_dir().string() << "; run deploy/fips/build-provider.sh");
    const std::string yaml =
        fips_yaml("    ciphers: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, ECDHE-ECDSA-CHACHA20-POLY1305]\n");
    const auto check = ward::test::check_config(s.dir.path(), yaml, "fips-chacha-config.yaml");
    INFO(check.diagnostics.to_string());
    CHECK(check.loaded);
    REQUIRE(check.activated);
    CHECK(ward::tls::fips_provider_active());
    CHECK_FALSE(check.snapshot.has_value());

    const auto at = ward::test::mark_of(yaml, "TLS_CHACHA20_POLY1305_SHA256");
    const auto errors = check.formatted("tls_contexts.peer.ciphers[1]");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == check.file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                           ": error: tls_contexts.peer.ciphers[1]: 'TLS_CHACHA20_POLY1305_SHA256' is not allowed in "
                           "fips mode: ChaCha20-Poly1305 is not a FIPS-approved cipher");
    // The TLS 1.2 one too: the rule is named, not "unknown to OpenSSL", although the FIPS
    // provider that is now the default cannot run it.
    const auto at12 = ward::test::mark_of(yaml, "ECDHE-ECDSA-CHACHA20-POLY1305");
    const auto errors12 = check.formatted("tls_contexts.peer.ciphers[2]");
    REQUIRE(errors12.size() == 1);
    CHECK(errors12[0] == check.file.string() + ":" + std::to_string(at12.line) + ":" + std::to_string(at12.column) +
                             ": error: tls_contexts.peer.ciphers[2]: 'ECDHE-ECDSA-CHACHA20-POLY1305' is not allowed "
                             "in fips mode: ChaCha20-Poly1305 is not a FIPS-approved cipher");
    CHECK(check.diagnostics.error_count() == 2);
}
