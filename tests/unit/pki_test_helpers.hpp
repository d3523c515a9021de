// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the PKI tests share: issuing shortcuts, SAN parsing, file helpers.
#include "proxy/ops/pki.hpp"

#include "tests/support/tls_test_support.hpp"
#include "tls/der.hpp"
#include "tls/flavour.hpp"
#include "tls/x509.hpp"

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


namespace ward::test::pki_helpers {

namespace fs = std::filesystem;
using namespace ward::tls;  // NOLINT: test helpers speak the tls module's names
using namespace ward::ops;  // NOLINT: and the PKI tool's

using ward::test::TempDir;

inline bool error_queue_empty() { return ERR_peek_error() == 0; }

inline Credential issue(const CertSpec& spec, const Credential* issuer = nullptr) {
    auto r = issue_certificate(spec, issuer);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
    CHECK(error_queue_empty());
    return std::move(*r);
}

inline CertSpec ca_spec(std::string cn = "test CA") {
    CertSpec spec;
    spec.common_names = {std::move(cn)};
    spec.is_ca = true;
    spec.server_auth = false;
    spec.client_auth = false;
    return spec;
}

inline CertSpec leaf_spec(std::string cn = "leaf.example.org") {
    CertSpec spec;
    spec.dns_names = {cn};
    spec.common_names = {std::move(cn)};
    return spec;
}

// Whether the library's chain verification checks a purpose (wolfSSL's does not: ward's
// verifier checks the extended key usage itself in that flavour).
inline constexpr bool kLibraryChecksPurpose = ward::tls::flavour::kName == "openssl";

// X509_V_OK or the verification error for leaf, with the given anchors and intermediates.
inline int verify(X509* leaf, const std::vector<X509*>& anchors, const std::vector<X509*>& untrusted = {},
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

inline std::string group_name(EVP_PKEY* key) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) {
        ERR_clear_error();
        return {};
    }
    return std::string(name, len);
}

inline bool has_extension(X509* cert, int nid) { return X509_get_ext_by_NID(cert, nid, -1) >= 0; }

struct San {
    std::vector<std::string> dns;
    std::vector<std::string> ip;   // raw octets
    std::vector<std::string> xmpp;
    std::vector<std::string> srv;
    std::vector<std::string> other_oids;  // the OBJECT IDENTIFIER elements
};

// Read with ward's own reader (tls/x509.hpp), the same in both flavours; the libraries'
// X509_check_host and X509_check_ip_asc are the independent checks.
inline San parse_san(X509* cert) {
    San san;
    auto names = ward::tls::subject_alt_names(cert);
    REQUIRE_FALSE(names.unreadable);
    san.dns = names.dns_names;
    san.ip = names.ip_addresses;
    const auto xmpp_addr = ward::der::known_oid("1.3.6.1.5.5.7.8.5");
    const auto dns_srv = ward::der::known_oid("1.3.6.1.5.5.7.8.7");
    for (const auto& other : names.other_names) {
        if (other.type_id == xmpp_addr) {
            REQUIRE(other.value_tag == ward::der::tag::utf8_string);
            san.xmpp.push_back(other.value);
        } else if (other.type_id == dns_srv) {
            REQUIRE(other.value_tag == ward::der::tag::ia5_string);
            san.srv.push_back(other.value);
        } else {
            san.other_oids.push_back(other.type_id);
        }
    }
    return san;
}

inline mode_t file_mode(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

inline void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}


}  // namespace ward::test::pki_helpers
