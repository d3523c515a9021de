// SPDX-License-Identifier: Apache-2.0
// The PKI: issuing certificates of every kind, in memory.
#include "tests/unit/pki_test_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ward::tls;
using namespace ward::ops;
using namespace ward::test::pki_helpers;

}  // namespace

TEST_CASE("pki: CA-issued leaf verifies against a store holding the CA") {
    Credential ca = issue(ca_spec());
    Credential leaf = issue(leaf_spec(), &ca);

    CHECK(X509_check_ca(ca.cert.get()) == 1);
    CHECK(X509_check_ca(leaf.cert.get()) == 0);
    CHECK(X509_get_version(leaf.cert.get()) == X509_VERSION_3);
    CHECK(X509_check_issued(ca.cert.get(), leaf.cert.get()) == X509_V_OK);
    // The leaf's AKI keyid is the CA's SKI.
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca.cert.get());
    const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf.cert.get());
    REQUIRE(ski);
    REQUIRE(akid);
    CHECK(ASN1_OCTET_STRING_cmp(ski, akid) == 0);
    CHECK(X509_get0_authority_key_id(ca.cert.get()) == nullptr);   // self-signed: no AKI
    CHECK(X509_get0_subject_key_id(leaf.cert.get()) != nullptr);

    CHECK(verify(leaf.cert.get(), {ca.cert.get()}) == X509_V_OK);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, X509_V_FLAG_X509_STRICT) == X509_V_OK);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, 0, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, 0, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
    CHECK(verify(ca.cert.get(), {ca.cert.get()}, {}, X509_V_FLAG_X509_STRICT) == X509_V_OK);

    // Not trusted without the CA, nor by another CA with the same name.
    CHECK(verify(leaf.cert.get(), {}) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    Credential other = issue(ca_spec());
    CHECK(verify(leaf.cert.get(), {other.cert.get()}) != X509_V_OK);
    CHECK(error_queue_empty());
}

TEST_CASE("pki: intermediate CA chains and mismatched issuer keys fail") {
    Credential root = issue(ca_spec("root"));
    Credential intermediate = issue(ca_spec("intermediate"), &root);
    Credential leaf = issue(leaf_spec(), &intermediate);
    CHECK(verify(leaf.cert.get(), {root.cert.get()}, {intermediate.cert.get()}, X509_V_FLAG_X509_STRICT) ==
          X509_V_OK);
    CHECK(verify(leaf.cert.get(), {root.cert.get()}) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    // Deliberately broken issuer: the CA's certificate with somebody else's key.
    Credential stranger = issue(ca_spec("stranger"));
    Credential forged_issuer{UniqueX509(X509_dup(root.cert.get())), std::move(stranger.key)};
    Credential forged = issue(leaf_spec(), &forged_issuer);
    CHECK(verify(forged.cert.get(), {root.cert.get()}) == X509_V_ERR_CERT_SIGNATURE_FAILURE);
}

TEST_CASE("pki: a CA without basicConstraints - or a leaf as issuer - is not a valid CA") {
    CertSpec no_bc = ca_spec("no basicConstraints");
    no_bc.basic_constraints = false;
    Credential ca = issue(no_bc);
    CHECK_FALSE(has_extension(ca.cert.get(), NID_basic_constraints));
    CHECK(has_extension(ca.cert.get(), NID_key_usage));
    Credential leaf = issue(leaf_spec(), &ca);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, X509_V_FLAG_X509_STRICT) == X509_V_ERR_INVALID_CA);

    Credential not_ca = issue(leaf_spec("not-a-ca.example.org"));
    Credential leaf2 = issue(leaf_spec(), &not_ca);
    CHECK(verify(leaf2.cert.get(), {not_ca.cert.get()}) == X509_V_ERR_INVALID_CA);
}

TEST_CASE("pki: key kinds and sizes") {
    SUBCASE("EC curves") {
        for (auto [curve, bits, group] : {std::tuple{"P-256", 256, "prime256v1"}, std::tuple{"P-384", 384, "secp384r1"},
                                          std::tuple{"P-521", 521, "secp521r1"},
                                          std::tuple{"secp256k1", 256, "secp256k1"}}) {
            CAPTURE(curve);
            CertSpec spec = leaf_spec();
            spec.key.curve = curve;
            Credential c = issue(spec);
            EVP_PKEY* pub = X509_get0_pubkey(c.cert.get());
            CHECK(EVP_PKEY_is_a(pub, "EC"));
            CHECK(EVP_PKEY_get_bits(pub) == bits);
            CHECK(group_name(c.key.get()) == group);
            CHECK(EVP_PKEY_eq(pub, c.key.get()) == 1);
            CHECK(X509_get_signature_nid(c.cert.get()) == NID_ecdsa_with_SHA256);
            CHECK((X509_get_key_usage(c.cert.get()) & KU_KEY_ENCIPHERMENT) == 0);
            CHECK((X509_get_key_usage(c.cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
        }
    }
    SUBCASE("RSA") {
        for (int bits : {1024, 2048}) {
            CAPTURE(bits);
            CertSpec spec = leaf_spec();
            spec.key.kind = KeySpec::Kind::rsa;
            spec.key.rsa_bits = bits;
            Credential c = issue(spec);
            EVP_PKEY* pub = X509_get0_pubkey(c.cert.get());
            CHECK(EVP_PKEY_is_a(pub, "RSA"));
            CHECK(EVP_PKEY_get_bits(pub) == bits);
            CHECK(X509_get_signature_nid(c.cert.get()) == NID_sha256WithRSAEncryption);
            CHECK((X509_get_key_usage(c.cert.get()) & KU_KEY_ENCIPHERMENT) != 0);
            CHECK((X509_get_key_usage(c.cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
        }
    }
    SUBCASE("Ed25519 self-signed and as issuer of an EC leaf") {
        CertSpec spec = ca_spec("ed25519 CA");
        spec.key.kind = KeySpec::Kind::ed25519;
        Credential ca = issue(spec);
        CHECK(EVP_PKEY_is_a(X509_get0_pubkey(ca.cert.get()), "ED25519"));
        CHECK(X509_get_signature_nid(ca.cert.get()) == NID_ED25519);
        Credential leaf = issue(leaf_spec(), &ca);
        CHECK(X509_get_signature_nid(leaf.cert.get()) == NID_ED25519);
        CHECK(verify(leaf.cert.get(), {ca.cert.get()}) == X509_V_OK);
    }
    SUBCASE("bad key specs fail cleanly") {
        KeySpec bad_curve;
        bad_curve.curve = "P-999";
        auto r1 = generate_key(bad_curve);
        REQUIRE_FALSE(r1.ok());
        CHECK(r1.error().find("P-999") != std::string::npos);
        KeySpec bad_rsa;
        bad_rsa.kind = KeySpec::Kind::rsa;
        bad_rsa.rsa_bits = 0;
        CHECK_FALSE(generate_key(bad_rsa).ok());
        CertSpec spec = leaf_spec();
        spec.key = bad_curve;
        CHECK_FALSE(issue_certificate(spec, nullptr).ok());
        CHECK(error_queue_empty());
    }
}

TEST_CASE("pki: digests and serials") {
    CertSpec spec = leaf_spec();
    spec.digest = "SHA1";
    CHECK(X509_get_signature_nid(issue(spec).cert.get()) == NID_ecdsa_with_SHA1);
    spec.digest = "SHA384";
    CHECK(X509_get_signature_nid(issue(spec).cert.get()) == NID_ecdsa_with_SHA384);
    spec.digest = "NO-SUCH-DIGEST";
    auto bad = issue_certificate(spec, nullptr);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().find("NO-SUCH-DIGEST") != std::string::npos);
    CHECK(error_queue_empty());

    CertSpec fixed = leaf_spec();
    fixed.serial = 42;
    CHECK(ASN1_INTEGER_get(X509_get0_serialNumber(issue(fixed).cert.get())) == 42);

    Credential a = issue(leaf_spec());
    Credential b = issue(leaf_spec());
    const ASN1_INTEGER* sa = X509_get0_serialNumber(a.cert.get());
    CHECK(ASN1_STRING_type(sa) == V_ASN1_INTEGER);   // not V_ASN1_NEG_INTEGER
    CHECK(ASN1_STRING_length(sa) == 16);
    CHECK(ASN1_INTEGER_cmp(sa, X509_get0_serialNumber(b.cert.get())) != 0);
}

TEST_CASE("pki: version 1 certificates carry no extensions") {
    Credential ca = issue(ca_spec());
    CertSpec spec = leaf_spec();
    spec.version = 1;
    spec.xmpp_addrs = {"example.org"};
    Credential v1 = issue(spec, &ca);
    CHECK(X509_get_version(v1.cert.get()) == X509_VERSION_1);
    CHECK(X509_get_version(v1.cert.get()) == 0);
    CHECK(X509_get_ext_count(v1.cert.get()) == 0);
    CHECK(verify(v1.cert.get(), {ca.cert.get()}) == X509_V_OK);

    CertSpec v1_root = ca_spec("v1 root");
    v1_root.version = 1;
    Credential root = issue(v1_root);
    CHECK(X509_get_ext_count(root.cert.get()) == 0);
    // A v3 leaf under a v1 root: AKI falls back to issuer name + serial.
    Credential leaf = issue(leaf_spec(), &root);
    CHECK(X509_get0_authority_key_id(leaf.cert.get()) == nullptr);
    CHECK(X509_get0_authority_issuer(leaf.cert.get()) != nullptr);
    CHECK(verify(leaf.cert.get(), {root.cert.get()}) == X509_V_OK);

    spec.version = 4;
    CHECK_FALSE(issue_certificate(spec, nullptr).ok());
}

TEST_CASE("pki: extended key usage flags") {
    auto with_eku = [](bool server, bool client) {
        CertSpec spec = leaf_spec();
        spec.server_auth = server;
        spec.client_auth = client;
        return issue(spec);
    };
    Credential both = with_eku(true, true);
    CHECK(X509_get_extended_key_usage(both.cert.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
    CHECK(X509_check_purpose(both.cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
    CHECK(X509_check_purpose(both.cert.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);

    Credential server = with_eku(true, false);
    CHECK(X509_get_extended_key_usage(server.cert.get()) == XKU_SSL_SERVER);
    CHECK(X509_check_purpose(server.cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
    CHECK(X509_check_purpose(server.cert.get(), X509_PURPOSE_SSL_CLIENT, 0) == 0);

    Credential client = with_eku(false, true);
    CHECK(X509_get_extended_key_usage(client.cert.get()) == XKU_SSL_CLIENT);
    CHECK(X509_check_purpose(client.cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 0);
    CHECK(X509_check_purpose(client.cert.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);

    Credential none = with_eku(false, false);
    CHECK_FALSE(has_extension(none.cert.get(), NID_ext_key_usage));
    CHECK(X509_get_extended_key_usage(none.cert.get()) == UINT32_MAX);   // "no restriction"

    Credential ca = issue(ca_spec());
    CertSpec client_only = leaf_spec();
    client_only.server_auth = false;
    Credential leaf = issue(client_only, &ca);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, 0, X509_PURPOSE_SSL_SERVER) == X509_V_ERR_INVALID_PURPOSE);
    CHECK(verify(leaf.cert.get(), {ca.cert.get()}, {}, 0, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
    CHECK(error_queue_empty());
}

TEST_CASE("pki: subject common names and one-line subject") {
    CertSpec spec;
    spec.common_names = {"a.example.org", "b.example.org"};
    Credential several = issue(spec);
    CHECK(subject_common_names(several.cert.get()) == std::vector<std::string>{"a.example.org", "b.example.org"});

    Credential one = issue(leaf_spec("x"));
    CHECK(subject_oneline(one.cert.get()) == "CN=x, O=ward");

    CertSpec none = leaf_spec();
    none.common_names.clear();
    none.organization.clear();
    Credential empty_subject = issue(none);
    CHECK(subject_common_names(empty_subject.cert.get()).empty());
    CHECK(subject_oneline(empty_subject.cert.get()).empty());
    // RFC 5280: with an empty subject the SAN must be critical.
    int critical = -1;
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(empty_subject.cert.get(), NID_subject_alt_name, &critical, nullptr));
    CHECK(names != nullptr);
    CHECK(critical == 1);
    GENERAL_NAMES_free(names);

    CertSpec utf8 = leaf_spec("b\xc3\xbc" "cher.example");
    utf8.organization = "ACME, Inc.";
    Credential u = issue(utf8);
    CHECK(subject_common_names(u.cert.get()) == std::vector<std::string>{"b\xc3\xbc" "cher.example"});
    CHECK(subject_oneline(u.cert.get()) == "CN=b\xc3\xbc" "cher.example, O=ACME\\, Inc.");

    // Deliberately bad names survive intact: over-long, and with an embedded NUL.
    CertSpec odd;
    odd.common_names = {std::string(100, 'a'), std::string("evil.example\0.good.example", 26)};
    Credential o = issue(odd);
    CHECK(subject_common_names(o.cert.get()) == odd.common_names);

    CHECK(subject_common_names(nullptr).empty());
    CHECK(error_queue_empty());
}

TEST_CASE("pki: subjectAltName entries round-trip") {
    CertSpec spec = leaf_spec("xmpp.example.org");
    spec.dns_names = {"xmpp.example.org", "*.example.org"};
    spec.ip_addresses = {"192.0.2.7", "2001:db8::1"};
    spec.xmpp_addrs = {"example.org", "j\xc3\xbcrgen@example.org"};
    spec.srv_names = {"_xmpp-server.example.org", "_xmpp-client.example.org"};
    Credential c = issue(spec);
    San san = parse_san(c.cert.get());
    CHECK(san.dns == spec.dns_names);
    REQUIRE(san.ip.size() == 2);
    CHECK(san.ip[0] == std::string("\xc0\x00\x02\x07", 4));
    CHECK(san.ip[1].size() == 16);
    CHECK(san.ip[1] == std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
    CHECK(san.xmpp == spec.xmpp_addrs);
    CHECK(san.srv == spec.srv_names);
    CHECK(san.other_oids.empty());
    CHECK(X509_check_host(c.cert.get(), "xmpp.example.org", 0, 0, nullptr) == 1);
    CHECK(X509_check_ip_asc(c.cert.get(), "2001:db8::1", 0) == 1);

    CertSpec no_san = leaf_spec();
    no_san.dns_names.clear();
    CHECK_FALSE(has_extension(issue(no_san).cert.get(), NID_subject_alt_name));

    CertSpec bad_ip = leaf_spec();
    bad_ip.ip_addresses = {"300.1.2.3"};
    auto r = issue_certificate(bad_ip, nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("300.1.2.3") != std::string::npos);
    CHECK(error_queue_empty());
}

TEST_CASE("pki: validity periods") {
    Credential ca = issue(ca_spec());
    CertSpec expired = leaf_spec();
    expired.not_before = -std::chrono::hours(48);
    expired.not_after = -std::chrono::hours(24);
    Credential e = issue(expired, &ca);
    CHECK(X509_cmp_current_time(X509_get0_notAfter(e.cert.get())) < 0);
    CHECK(X509_cmp_current_time(X509_get0_notBefore(e.cert.get())) < 0);
    CHECK(verify(e.cert.get(), {ca.cert.get()}) == X509_V_ERR_CERT_HAS_EXPIRED);

    CertSpec future = leaf_spec();
    future.not_before = std::chrono::hours(24);
    Credential f = issue(future, &ca);
    CHECK(X509_cmp_current_time(X509_get0_notBefore(f.cert.get())) > 0);
    CHECK(verify(f.cert.get(), {ca.cert.get()}) == X509_V_ERR_CERT_NOT_YET_VALID);

    // The 20-year default reaches past 2049, where the encoding switches to GeneralizedTime.
    Credential d = issue(leaf_spec());
    int days = 0, seconds = 0;
    REQUIRE(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(d.cert.get())) == 1);
    CHECK(days >= 365 * 20 - 1);
    CHECK(days <= 365 * 20 + 1);
}

TEST_CASE("pki: fingerprint format") {
    Credential c = issue(leaf_spec());
    const std::string fp = sha256_fingerprint(c.cert.get());
    REQUIRE(fp.size() == 32 * 3 - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(X509_digest(c.cert.get(), EVP_sha256(), md, &len) == 1);
    char first[3];
    std::snprintf(first, sizeof first, "%02X", md[0]);
    CHECK(fp.substr(0, 2) == first);
    for (size_t i = 0; i < fp.size(); ++i) {
        if (i % 3 == 2) {
            CHECK(fp[i] == ':');
        } else {
            CHECK(((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'A' && fp[i] <= 'F')));
        }
    }
    CHECK(sha256_fingerprint(issue(leaf_spec()).cert.get()) != fp);
}

TEST_CASE("pki: a CRL as RFC 5280 has a CA write it - signed, in serial order, and enforced") {
    Credential ca = issue(ca_spec());
    CertSpec revoked_spec = leaf_spec("revoked.example.org");
    revoked_spec.serial = 4242;
    Credential revoked = issue(revoked_spec, &ca);
    CertSpec kept_spec = leaf_spec("kept.example.org");
    kept_spec.serial = 17;
    Credential kept = issue(kept_spec, &ca);

    CrlSpec spec;
    spec.revoked_serials = {4242, 7, 300};
    spec.number = 9;
    auto pem = issue_crl(spec, ca);
    REQUIRE(pem.ok());
    CHECK(pem->rfind("-----BEGIN X509 CRL-----\n", 0) == 0);
    UniqueBio bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    UniqueX509Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(crl);
    CHECK(X509_CRL_get_version(crl.get()) == X509_CRL_VERSION_2);
    CHECK(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.cert.get())) == 0);
    CHECK(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())) == 1);
    CHECK(X509_cmp_current_time(X509_CRL_get0_lastUpdate(crl.get())) < 0);
    CHECK(X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl.get())) > 0);
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
    REQUIRE(sk_X509_REVOKED_num(entries) == 3);
    long previous = 0;
    for (int i = 0; i < 3; ++i) {
        const long serial = ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i)));
        CHECK(serial > previous);
        previous = serial;
    }
    auto* number = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
    REQUIRE(number);
    CHECK(ASN1_INTEGER_get(number) == 9);
    ASN1_INTEGER_free(number);
    auto* akid = static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr));
    REQUIRE(akid);
    CHECK(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(ca.cert.get())) == 0);
    AUTHORITY_KEYID_free(akid);

    // In a store checking CRLs: the revoked leaf is refused, the other one passes.
    auto verify_with_crl = [&](X509* leaf, X509_CRL* list) {
        UniqueX509Store store(X509_STORE_new());
        REQUIRE(X509_STORE_add_cert(store.get(), ca.cert.get()) == 1);
        REQUIRE(X509_STORE_add_crl(store.get(), list) == 1);
        X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
        std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
        REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
        const int ok = X509_verify_cert(ctx.get());
        const int err = X509_STORE_CTX_get_error(ctx.get());
        ERR_clear_error();
        return ok == 1 ? X509_V_OK : err;
    };
    CHECK(verify_with_crl(revoked.cert.get(), crl.get()) == X509_V_ERR_CERT_REVOKED);
    CHECK(verify_with_crl(kept.cert.get(), crl.get()) == X509_V_OK);

    // Out of date, and without entries (no revokedCertificates field at all).
    CrlSpec stale;
    stale.this_update = -std::chrono::hours(48);
    stale.next_update = -std::chrono::hours(24);
    auto stale_pem = issue_crl(stale, ca);
    REQUIRE(stale_pem.ok());
    UniqueBio stale_bio(BIO_new_mem_buf(stale_pem->data(), static_cast<int>(stale_pem->size())));
    UniqueX509Crl stale_crl(PEM_read_bio_X509_CRL(stale_bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(stale_crl);
    CHECK(X509_CRL_get_REVOKED(stale_crl.get()) == nullptr);
    CHECK(verify_with_crl(kept.cert.get(), stale_crl.get()) == X509_V_ERR_CRL_HAS_EXPIRED);

    // A v1 CA has no key identifier to name: refused rather than written without one.
    CertSpec v1 = ca_spec("v1 CA");
    v1.version = 1;
    auto refused = issue_crl({}, issue(v1));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().find("subject key identifier") != std::string::npos);
    CHECK(error_queue_empty());
}
