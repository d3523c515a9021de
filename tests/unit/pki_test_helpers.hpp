// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the PKI tests share: issuing shortcuts, SAN parsing, file helpers.
#include "proxy/ops/pki.hpp"

#include "tests/support/tls_test_support.hpp"

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
    std::vector<std::string> other_oids;
};

inline std::string asn1_bytes(const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
}

inline San parse_san(X509* cert) {
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
