#include "tls/pki.hpp"

#include "../support/tls_test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <tuple>

#include <doctest/doctest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

namespace {

namespace fs = std::filesystem;
using namespace ward::tls;

using ward::test::TempDir;

bool error_queue_empty() { return ERR_peek_error() == 0; }

Credential issue(const CertSpec& spec, const Credential* issuer = nullptr) {
    auto r = issue_certificate(spec, issuer);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
    CHECK(error_queue_empty());
    return std::move(*r);
}

CertSpec ca_spec(std::string cn = "test CA") {
    CertSpec spec;
    spec.common_names = {std::move(cn)};
    spec.is_ca = true;
    spec.server_auth = false;
    spec.client_auth = false;
    return spec;
}

CertSpec leaf_spec(std::string cn = "leaf.example.org") {
    CertSpec spec;
    spec.dns_names = {cn};
    spec.common_names = {std::move(cn)};
    return spec;
}

// X509_V_OK or the verification error for leaf, with the given anchors and intermediates.
int verify(X509* leaf, const std::vector<X509*>& anchors, const std::vector<X509*>& untrusted = {},
           unsigned long flags = 0, int purpose = 0) {
    UniqueX509Store store(X509_STORE_new());
    REQUIRE(store);
    for (X509* a : anchors) REQUIRE(X509_STORE_add_cert(store.get(), a) == 1);
    UniqueX509Stack chain(sk_X509_new_null());
    for (X509* u : untrusted) REQUIRE(sk_X509_push(chain.get(), X509_dup(u)) > 0);
    std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain.get()) == 1);
    if (flags) X509_STORE_CTX_set_flags(ctx.get(), flags);
    if (purpose) REQUIRE(X509_STORE_CTX_set_purpose(ctx.get(), purpose) == 1);
    const int rc = X509_verify_cert(ctx.get());
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();   // a failed verification may queue errors; not the code under test
    return rc == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

std::string group_name(EVP_PKEY* key) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) {
        ERR_clear_error();
        return {};
    }
    return std::string(name, len);
}

bool has_extension(X509* cert, int nid) { return X509_get_ext_by_NID(cert, nid, -1) >= 0; }

struct San {
    std::vector<std::string> dns;
    std::vector<std::string> ip;   // raw octets
    std::vector<std::string> xmpp;
    std::vector<std::string> srv;
    std::vector<std::string> other_oids;
};

std::string asn1_bytes(const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
}

San parse_san(X509* cert) {
    San san;
    int critical = -1;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr));
    if (!names) return san;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
        switch (gen->type) {
        case GEN_DNS:
            san.dns.push_back(asn1_bytes(gen->d.dNSName));
            break;
        case GEN_IPADD:
            san.ip.push_back(asn1_bytes(gen->d.iPAddress));
            break;
        case GEN_OTHERNAME: {
            char oid[80];
            OBJ_obj2txt(oid, sizeof oid, gen->d.otherName->type_id, 1);
            const ASN1_TYPE* value = gen->d.otherName->value;
            if (std::string(oid) == "1.3.6.1.5.5.7.8.5") {
                REQUIRE(value->type == V_ASN1_UTF8STRING);
                san.xmpp.push_back(asn1_bytes(value->value.utf8string));
            } else if (std::string(oid) == "1.3.6.1.5.5.7.8.7") {
                REQUIRE(value->type == V_ASN1_IA5STRING);
                san.srv.push_back(asn1_bytes(value->value.ia5string));
            } else {
                san.other_oids.push_back(oid);
            }
            break;
        }
        default:
            break;
        }
    }
    GENERAL_NAMES_free(names);
    return san;
}

mode_t file_mode(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

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

    // RSA and Ed25519 keys too.
    for (auto kind : {KeySpec::Kind::rsa, KeySpec::Kind::ed25519}) {
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
        const char pass[] = "secret";
        REQUIRE(PEM_write_bio_PrivateKey(bio.get(), a.key.get(), EVP_aes_128_cbc(),
                                         reinterpret_cast<const unsigned char*>(pass), 6, nullptr, nullptr) == 1);
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
        CHECK(verify(cert, {ca->cert.get()}, {}, X509_V_FLAG_X509_STRICT, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
        CHECK(verify(cert, {ca->cert.get()}, {}, X509_V_FLAG_X509_STRICT, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
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
    auto written = pki_init(dir.path() / "nested" / "pki", options);
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error()));
    auto xmpp = read_certificate_pem(dir.path() / "nested" / "pki" / "xmpp.pem");
    REQUIRE(xmpp.ok());
    CHECK(subject_oneline(xmpp->get()) == "CN=xmpp.example.org, O=ward");
    CHECK(EVP_PKEY_is_a(X509_get0_pubkey(xmpp->get()), "ED25519"));

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
