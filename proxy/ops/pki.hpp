// SPDX-License-Identifier: Apache-2.0
#pragma once
// Certificate authority tooling: key generation, certificate issuance and PEM I/O. Backs
// `ward pki init` / `ward pki issue`, and the tests, which need certificates of every kind,
// including deliberately broken ones, so issue_certificate() does what the spec says rather
// than what a careful CA would do.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/x509.hpp"

namespace ward::ops {

using tls::UniquePkey;
using tls::UniqueX509;

struct KeySpec {
    enum class Kind { ec, rsa, ed25519 } kind = Kind::ec;
    std::string curve = "P-256";   // ec: P-256, P-384, P-521, or any OpenSSL group name (secp256k1)
    int rsa_bits = 2048;           // rsa: any size OpenSSL accepts, incl. 1024 for negative tests
};

struct CertSpec {
    std::vector<std::string> common_names;   // subject CN entries; usually one; zero or several allowed
    std::string organization = "ward";       // O= (omitted if empty)
    std::vector<std::string> dns_names;      // SAN dNSName
    std::vector<std::string> ip_addresses;   // SAN iPAddress, textual IPv4 or IPv6
    std::vector<std::string> xmpp_addrs;     // SAN otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5), UTF8String
    std::vector<std::string> srv_names;      // SAN otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7), IA5String
    bool is_ca = false;                      // critical basicConstraints CA:TRUE + keyUsage keyCertSign,cRLSign
    bool basic_constraints = true;           // false: no basicConstraints at all (negative tests)
    bool server_auth = true;                 // EKU serverAuth
    bool client_auth = true;                 // EKU clientAuth (both false => no EKU extension)
    int version = 3;                         // 1 or 2 => no extensions at all
    std::chrono::system_clock::duration not_before = -std::chrono::hours(1);             // relative to now
    std::chrono::system_clock::duration not_after = std::chrono::hours(24 * 365 * 20);   // negative => expired
    std::string digest = "SHA256";           // any OpenSSL digest name; ignored for Ed25519 signers
    long serial = 0;                         // 0 => random positive 128-bit serial
    std::string ocsp_url;                    // Authority Information Access OCSP URI (omitted if empty)
    bool must_staple = false;                // TLS feature status_request (RFC 7633)
    std::vector<std::string> critical_extensions;  // extra critical extensions, by OID, value NULL (negative tests)
    KeySpec key;
};

struct Credential {
    UniqueX509 cert;
    UniquePkey key;
};

// A fresh private key as described.
Result<UniquePkey> generate_key(const KeySpec& spec);

// Issues a certificate for a fresh key; issuer == nullptr => self-signed. v3 certificates get
// subjectKeyIdentifier, and authorityKeyIdentifier when issued by someone else. Leaf keyUsage is
// digitalSignature (+ keyEncipherment for RSA). The issuer is not checked for being a CA.
Result<Credential> issue_certificate(const CertSpec& spec, const Credential* issuer);

// A certificate revocation list, as RFC 5280 section 5 has a conforming CA write it.
struct CrlSpec {
    std::vector<long> revoked_serials;   // each revoked at this_update
    std::chrono::system_clock::duration this_update = -std::chrono::hours(1);      // relative to now
    std::chrono::system_clock::duration next_update = std::chrono::hours(24 * 30); // negative => out of date
    long number = 1;                     // cRLNumber
    std::string digest = "SHA256";       // ignored for Ed25519 signers
};

// A v2 CRL signed by `issuer`, with authorityKeyIdentifier (the issuer's key identifier) and
// cRLNumber, its entries in serial order; PEM ("X509 CRL").
Result<std::string> issue_crl(const CrlSpec& spec, const Credential& issuer);

// PEM output. Files are written to a temporary name and renamed into place, so readers never
// see half a file; keys are created 0600, certificates 0644.
Status write_certificate_pem(const std::filesystem::path& path, X509* cert, const std::vector<X509*>& chain = {});
Status write_private_key_pem(const std::filesystem::path& path, EVP_PKEY* key);

// Certificate (first in the file) and key, checked to belong together.
Result<Credential> read_credential(const std::filesystem::path& cert, const std::filesystem::path& key);

struct PkiInitOptions {
    std::string domain = "ward.test";
    KeySpec key;
    bool force = false;
};

struct WrittenFile {
    std::filesystem::path path;
    std::string what;   // e.g. "CA: CN=ward development CA, O=ward"
};

// `ward pki init DIR`: development CA (ca.pem, ca.key), node certificates xmpp/sip/admin
// (<node>.pem, <node>.key) and trust/ca.pem. Refuses to overwrite any existing file unless
// options.force; the check happens before anything is written.
Result<std::vector<WrittenFile>> pki_init(const std::filesystem::path& dir, const PkiInitOptions& options);

// `ward pki issue`: one certificate signed by the CA in ca_cert/ca_key (which must be a CA
// certificate matching the key), written to out_cert/out_key (replacing existing files).
Result<std::vector<WrittenFile>> pki_issue(const std::filesystem::path& ca_cert, const std::filesystem::path& ca_key,
                                           const CertSpec& spec, const std::filesystem::path& out_cert,
                                           const std::filesystem::path& out_key);

}  // namespace ward::ops
