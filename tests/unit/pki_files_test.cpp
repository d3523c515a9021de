// SPDX-License-Identifier: Apache-2.0
// The PKI on disk: PEM files, `ward pki init` and `ward pki issue`.
#include "tests/unit/pki_test_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ward::tls;
using namespace ward::ops;
using namespace ward::test::pki_helpers;

}  // namespace

TEST_CASE("pki: PEM write/read round trip") {
    TempDir dir;
    Credential ca = issue(ca_spec());
    Credential leaf = issue(leaf_spec(), &ca);

    REQUIRE(write_certificate_pem(dir / "chain.pem", leaf.cert.get(), {ca.cert.get()}).ok());
    REQUIRE(write_private_key_pem(dir / "leaf.key", leaf.key.get()).ok());
    CHECK(file_mode(dir / "leaf.key") == 0600);
    CHECK((file_mode(dir / "chain.pem") & 0600) == 0600);

    auto all = read_certificates_pem(dir / "chain.pem");
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK(X509_cmp((*all)[0].get(), leaf.cert.get()) == 0);
    CHECK(X509_cmp((*all)[1].get(), ca.cert.get()) == 0);
    auto first = read_certificate_pem(dir / "chain.pem");
    REQUIRE(first.ok());
    CHECK(X509_cmp(first->get(), leaf.cert.get()) == 0);
    auto key = read_private_key_pem(dir / "leaf.key");
    REQUIRE(key.ok());
    CHECK(EVP_PKEY_eq(key->get(), leaf.key.get()) == 1);
    auto cred = read_credential(dir / "chain.pem", dir / "leaf.key");
    REQUIRE(cred.ok());
    CHECK(X509_cmp(cred->cert.get(), leaf.cert.get()) == 0);
    CHECK(error_queue_empty());

    // Overwriting a world-readable file still leaves a 0600 key.
    write_text(dir / "loose.key", "x");
    ::chmod((dir / "loose.key").c_str(), 0644);
    REQUIRE(write_private_key_pem(dir / "loose.key", leaf.key.get()).ok());
    CHECK(file_mode(dir / "loose.key") == 0600);

    // A combined file: key and certificate in one, either order.
    write_text(dir / "combined.pem", read_text(dir / "leaf.key") + read_text(dir / "chain.pem"));
    auto combined_certs = read_certificates_pem(dir / "combined.pem");
    REQUIRE(combined_certs.ok());
    CHECK(combined_certs->size() == 2);
    write_text(dir / "combined2.pem", read_text(dir / "chain.pem") + read_text(dir / "leaf.key"));
    auto combined_key = read_private_key_pem(dir / "combined2.pem");
    REQUIRE_MESSAGE(combined_key.ok(), (combined_key.ok() ? "" : combined_key.error()));
    CHECK(EVP_PKEY_eq(combined_key->get(), leaf.key.get()) == 1);

    // RSA and Ed25519 keys too (Ed25519 where the library has EdDSA keys).
    for (auto kind : {KeySpec::Kind::rsa, KeySpec::Kind::ed25519}) {
        if (kind == KeySpec::Kind::ed25519 && !ward::tls::flavour::kEdDsa) continue;
        CertSpec spec = leaf_spec();
        spec.key.kind = kind;
        spec.key.rsa_bits = 1024;
        Credential c = issue(spec);
        REQUIRE(write_private_key_pem(dir / "k.key", c.key.get()).ok());
        auto k = read_private_key_pem(dir / "k.key");
        REQUIRE(k.ok());
        CHECK(EVP_PKEY_eq(k->get(), c.key.get()) == 1);
    }
    CHECK(error_queue_empty());
}

TEST_CASE("pki: PEM read failures name the file and leave the queue empty") {
    TempDir dir;
    Credential a = issue(leaf_spec());
    Credential b = issue(leaf_spec());
    REQUIRE(write_certificate_pem(dir / "a.pem", a.cert.get()).ok());
    REQUIRE(write_private_key_pem(dir / "b.key", b.key.get()).ok());

    auto expect_error = [](const auto& result, const fs::path& file) {
        REQUIRE_FALSE(result.ok());
        CAPTURE(result.error());
        CHECK(result.error().find(file.string()) != std::string::npos);
        CHECK(error_queue_empty());
    };
    expect_error(read_certificate_pem(dir / "missing.pem"), dir / "missing.pem");
    expect_error(read_private_key_pem(dir / "missing.key"), dir / "missing.key");
    expect_error(read_certificate_pem(dir.path()), dir.path());

    write_text(dir / "empty.pem", "");
    expect_error(read_certificates_pem(dir / "empty.pem"), dir / "empty.pem");
    expect_error(read_private_key_pem(dir / "empty.pem"), dir / "empty.pem");

    write_text(dir / "garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n");
    expect_error(read_certificate_pem(dir / "garbage.pem"), dir / "garbage.pem");
    write_text(dir / "garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    expect_error(read_private_key_pem(dir / "garbage.key"), dir / "garbage.key");

    // A good certificate followed by a corrupt one is an error, not a silent truncation.
    write_text(dir / "half.pem", read_text(dir / "a.pem") + read_text(dir / "garbage.pem"));
    expect_error(read_certificates_pem(dir / "half.pem"), dir / "half.pem");

    // The certificate file holds no key, the key file no certificate.
    expect_error(read_private_key_pem(dir / "a.pem"), dir / "a.pem");
    expect_error(read_certificate_pem(dir / "b.key"), dir / "b.key");

    // Mismatched pair.
    expect_error(read_credential(dir / "a.pem", dir / "b.key"), dir / "b.key");

    // Encrypted keys are refused, never prompted for.
    {
        UniqueBio bio(BIO_new_file((dir / "enc.key").c_str(), "w"));
        REQUIRE(bio);
        unsigned char pass[] = "secret";
        REQUIRE(PEM_write_bio_PrivateKey(bio.get(), a.key.get(), EVP_aes_128_cbc(), pass, 6, nullptr, nullptr) == 1);
    }
    auto enc = read_private_key_pem(dir / "enc.key");
    expect_error(enc, dir / "enc.key");
    CHECK(enc.error().find("encrypted") != std::string::npos);

    CHECK_FALSE(write_certificate_pem(dir / "no-such-dir" / "x.pem", a.cert.get()).ok());
    CHECK_FALSE(write_private_key_pem(dir / "no-such-dir" / "x.key", a.key.get()).ok());
    CHECK_FALSE(write_certificate_pem(dir / "null.pem", nullptr).ok());
    CHECK(error_queue_empty());
}

TEST_CASE("pki: pki init writes a development PKI and refuses to overwrite it") {
    TempDir dir;
    PkiInitOptions options;
    auto written = pki_init(dir.path(), options);
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error()));
    CHECK(error_queue_empty());

    std::vector<fs::path> paths;
    for (const auto& w : *written) paths.push_back(w.path);
    const std::vector<std::string> names = {"ca.pem",  "ca.key",   "xmpp.pem",  "xmpp.key", "sip.pem",
                                            "sip.key", "admin.pem", "admin.key", "trust/ca.pem"};
    REQUIRE(paths.size() == names.size());
    for (const auto& name : names) {
        CAPTURE(name);
        const fs::path p = dir.path() / name;
        CHECK(fs::is_regular_file(p));
        CHECK(std::find(paths.begin(), paths.end(), p) != paths.end());
        if (p.extension() == ".key") CHECK(file_mode(p) == 0600);
    }
    CHECK((*written)[0].what == "CA: CN=ward development CA, O=ward");
    CHECK(read_text(dir / "ca.pem") == read_text(dir.path() / "trust" / "ca.pem"));

    auto ca = read_credential(dir / "ca.pem", dir / "ca.key");
    REQUIRE(ca.ok());
    CHECK(subject_common_names(ca->cert.get()) == std::vector<std::string>{"ward development CA"});
    CHECK(X509_check_ca(ca->cert.get()) == 1);
    for (const std::string node : {"xmpp", "sip", "admin"}) {
        CAPTURE(node);
        auto cred = read_credential(dir / (node + ".pem"), dir / (node + ".key"));
        REQUIRE(cred.ok());
        X509* cert = cred->cert.get();
        CHECK(subject_common_names(cert) == std::vector<std::string>{node + ".ward.test"});
        CHECK(verify(cert, {ca->cert.get()}, {}, X509_V_FLAG_X509_STRICT) == X509_V_OK);
        if (kLibraryChecksPurpose) {
            CHECK(verify(cert, {ca->cert.get()}, {}, X509_V_FLAG_X509_STRICT, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
            CHECK(verify(cert, {ca->cert.get()}, {}, X509_V_FLAG_X509_STRICT, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
        }
        CHECK(X509_check_host(cert, (node + ".ward.test").c_str(), 0, 0, nullptr) == 1);
        CHECK(X509_check_host(cert, "localhost", 0, 0, nullptr) == 1);
        CHECK(X509_check_ip_asc(cert, "127.0.0.1", 0) == 1);
        CHECK(X509_check_ip_asc(cert, "::1", 0) == 1);
        San san = parse_san(cert);
        if (node == "xmpp") {
            CHECK(X509_check_host(cert, "ward.test", 0, 0, nullptr) == 1);
            CHECK(san.xmpp == std::vector<std::string>{"ward.test"});
            CHECK(san.srv == std::vector<std::string>{"_xmpp-client.ward.test", "_xmpp-server.ward.test"});
        } else {
            CHECK(X509_check_host(cert, "ward.test", 0, 0, nullptr) == 0);
            CHECK(san.xmpp.empty());
            CHECK(san.srv.empty());
        }
        // Nodes expire no later than the CA.
        CHECK(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca->cert.get())) <= 0);
    }

    // Second run: refused, nothing touched; then forced, everything replaced.
    const std::string fp = sha256_fingerprint(ca->cert.get());
    auto again = pki_init(dir.path(), options);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().find("ca.pem") != std::string::npos);
    auto still = read_certificate_pem(dir / "ca.pem");
    REQUIRE(still.ok());
    CHECK(sha256_fingerprint(still->get()) == fp);

    // Any single existing file is enough to refuse.
    fs::remove(dir / "ca.pem");
    CHECK_FALSE(pki_init(dir.path(), options).ok());

    options.force = true;
    ::chmod((dir / "xmpp.key").c_str(), 0644);
    auto forced = pki_init(dir.path(), options);
    REQUIRE(forced.ok());
    auto replaced = read_certificate_pem(dir / "ca.pem");
    REQUIRE(replaced.ok());
    CHECK(sha256_fingerprint(replaced->get()) != fp);
    CHECK(file_mode(dir / "xmpp.key") == 0600);
    CHECK(error_queue_empty());
}

TEST_CASE("pki: pki init options") {
    TempDir dir;
    PkiInitOptions options;
    options.domain = "example.org";
    options.key.kind = KeySpec::Kind::ed25519;
    if (!ward::tls::flavour::kEdDsa) {
        // Refused with the reason, before anything is written; RSA in its place.
        auto refused = pki_init(dir.path() / "nested" / "pki", options);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().find("no EdDSA keys") != std::string::npos);
        CHECK_FALSE(fs::exists(dir.path() / "nested"));
        options.key.kind = KeySpec::Kind::rsa;
    }
    auto written = pki_init(dir.path() / "nested" / "pki", options);
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error()));
    auto xmpp = read_certificate_pem(dir.path() / "nested" / "pki" / "xmpp.pem");
    REQUIRE(xmpp.ok());
    CHECK(subject_oneline(xmpp->get()) == "CN=xmpp.example.org, O=ward");
    CHECK(EVP_PKEY_is_a(X509_get0_pubkey(xmpp->get()), ward::tls::flavour::kEdDsa ? "ED25519" : "RSA"));

    for (const char* bad : {"", "bad domain", ".example.org", "example..org", "a/b"}) {
        CAPTURE(bad);
        options.domain = bad;
        CHECK_FALSE(pki_init(dir.path() / "bad", options).ok());
    }
    CHECK_FALSE(fs::exists(dir.path() / "bad"));
    CHECK(error_queue_empty());
}

TEST_CASE("pki: pki issue signs with an existing CA") {
    TempDir dir;
    REQUIRE(pki_init(dir.path(), PkiInitOptions{}).ok());

    CertSpec spec = leaf_spec("client.ward.test");
    spec.server_auth = false;
    auto written = pki_issue(dir / "ca.pem", dir / "ca.key", spec, dir / "client.pem", dir / "client.key");
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error()));
    REQUIRE(written->size() == 2);
    CHECK((*written)[0].path == dir / "client.pem");
    CHECK((*written)[0].what.find("CN=client.ward.test") != std::string::npos);
    CHECK(file_mode(dir / "client.key") == 0600);

    auto ca = read_certificate_pem(dir / "ca.pem");
    auto client = read_credential(dir / "client.pem", dir / "client.key");
    REQUIRE(ca.ok());
    REQUIRE(client.ok());
    CHECK(verify(client->cert.get(), {ca->get()}, {}, X509_V_FLAG_X509_STRICT, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
    CHECK(X509_get_extended_key_usage(client->cert.get()) == XKU_SSL_CLIENT);

    // Not a CA; mismatched key; missing files; overwriting the CA itself.
    auto not_ca = pki_issue(dir / "xmpp.pem", dir / "xmpp.key", spec, dir / "x.pem", dir / "x.key");
    REQUIRE_FALSE(not_ca.ok());
    CHECK(not_ca.error().find("not a CA") != std::string::npos);
    CHECK_FALSE(pki_issue(dir / "ca.pem", dir / "xmpp.key", spec, dir / "x.pem", dir / "x.key").ok());
    CHECK_FALSE(pki_issue(dir / "nope.pem", dir / "ca.key", spec, dir / "x.pem", dir / "x.key").ok());
    CHECK_FALSE(pki_issue(dir / "ca.pem", dir / "ca.key", spec, dir / "x.pem", dir / "ca.key").ok());
    CHECK_FALSE(pki_issue(dir / "ca.pem", dir / "ca.key", spec, dir / "x.pem", dir / "x.pem").ok());
    CHECK_FALSE(fs::exists(dir / "x.pem"));
    CHECK_FALSE(fs::exists(dir / "x.key"));
    CHECK(error_queue_empty());
}
