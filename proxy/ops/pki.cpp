// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/pki.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "config/values.hpp"
#include "tls/openssl_error.hpp"

namespace ward::ops {

using namespace tls;  // the TLS module's handles, readers and policy, used throughout
namespace {

namespace fs = std::filesystem;

constexpr const char* kXmppAddrOid = "1.3.6.1.5.5.7.8.5";   // id-on-xmppAddr, RFC 6120
constexpr const char* kDnsSrvOid = "1.3.6.1.5.5.7.8.7";     // id-on-dnsSRV, RFC 4985
constexpr const char* kDevCaName = "ward development CA";
constexpr mode_t kCertMode = 0644;
constexpr mode_t kKeyMode = 0600;

std::string display(const fs::path& path) { return path.string(); }

std::string errno_text(int err) { return std::generic_category().message(err); }

long to_seconds(std::chrono::system_clock::duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

// ---- certificate building -------------------------------------------------------------

Status set_serial(X509* cert, long serial) {
    ASN1_INTEGER* out = X509_get_serialNumber(cert);
    if (serial != 0) {
        if (ASN1_INTEGER_set(out, serial) != 1) return Error{openssl_error("cannot set serial number")};
        return {};
    }
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return Error{openssl_error("cannot generate serial number")};
    // Top bit clear keeps the DER INTEGER positive without a pad octet; the next bit set keeps
    // leading zeros from shortening it, so every random serial is exactly 16 octets.
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
    UniqueBignum bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn || !BN_to_ASN1_INTEGER(bn.get(), out)) return Error{openssl_error("cannot set serial number")};
    return {};
}

Status add_name_entry(X509_NAME* name, int nid, std::string_view value) {
    if (value.size() > INT_MAX) return Error{"subject attribute too long"};
    // A plain V_ASN1_UTF8STRING (not MBSTRING_UTF8) bypasses OpenSSL's X.520 length limits
    // (CN <= 64), which tests deliberately exceed; -1/0 appends each value as its own RDN.
    if (X509_NAME_add_entry_by_NID(name, nid, V_ASN1_UTF8STRING,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
        return Error{openssl_error(std::string("cannot add ") + OBJ_nid2sn(nid) + " to subject")};
    }
    return {};
}

Status build_subject(X509* cert, const CertSpec& spec) {
    X509_NAME* name = X509_get_subject_name(cert);
    // DER order is least specific first, so the one-line form reads "CN=x, O=ward".
    if (!spec.organization.empty()) {
        if (auto s = add_name_entry(name, NID_organizationName, spec.organization); !s) return s;
    }
    for (const auto& cn : spec.common_names) {
        if (auto s = add_name_entry(name, NID_commonName, cn); !s) return s;
    }
    return {};
}

Result<UniqueAsn1String> make_string(int type, std::string_view value) {
    if (value.size() > INT_MAX) return Error{"subjectAltName entry too long"};
    UniqueAsn1String s(ASN1_STRING_type_new(type));
    if (!s || ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) != 1) {
        return Error{openssl_error("cannot build subjectAltName entry")};
    }
    return s;
}

Status push_name(GENERAL_NAMES* names, UniqueGeneralName name) {
    if (sk_GENERAL_NAME_push(names, name.get()) <= 0) return Error{openssl_error("cannot build subjectAltName")};
    name.release();
    return {};
}

Status push_string_name(GENERAL_NAMES* names, int gen_type, std::string_view value) {
    auto s = make_string(V_ASN1_IA5STRING, value);
    if (!s) return Error{s.error()};
    UniqueGeneralName gen(GENERAL_NAME_new());
    if (!gen) return Error{openssl_error("cannot build subjectAltName")};
    GENERAL_NAME_set0_value(gen.get(), gen_type, s->release());
    return push_name(names, std::move(gen));
}

Status push_ip_name(GENERAL_NAMES* names, const std::string& text) {
    UniqueAsn1String ip(a2i_IPADDRESS(text.c_str()));
    if (!ip) return Error{openssl_error("invalid IP address \"" + text + "\"")};
    UniqueGeneralName gen(GENERAL_NAME_new());
    if (!gen) return Error{openssl_error("cannot build subjectAltName")};
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, ip.release());
    return push_name(names, std::move(gen));
}

Status push_other_name(GENERAL_NAMES* names, const char* oid_text, int value_type, std::string_view value) {
    UniqueAsn1Object oid(OBJ_txt2obj(oid_text, 1));
    auto s = make_string(value_type, value);
    UniqueAsn1Type any(ASN1_TYPE_new());
    UniqueGeneralName gen(GENERAL_NAME_new());
    if (!oid || !s || !any || !gen) {
        return Error{s ? openssl_error("cannot build subjectAltName otherName") : s.error()};
    }
    ASN1_TYPE_set(any.get(), value_type, s->release());
    if (GENERAL_NAME_set0_othername(gen.get(), oid.get(), any.get()) != 1) {
        return Error{openssl_error("cannot build subjectAltName otherName")};
    }
    oid.release();
    any.release();
    return push_name(names, std::move(gen));
}

Status add_subject_alt_name(X509* cert, const CertSpec& spec) {
    UniqueGeneralNames names(sk_GENERAL_NAME_new_null());
    if (!names) return Error{openssl_error("cannot build subjectAltName")};
    for (const auto& dns : spec.dns_names) {
        if (auto s = push_string_name(names.get(), GEN_DNS, dns); !s) return s;
    }
    for (const auto& ip : spec.ip_addresses) {
        if (auto s = push_ip_name(names.get(), ip); !s) return s;
    }
    for (const auto& jid : spec.xmpp_addrs) {
        if (auto s = push_other_name(names.get(), kXmppAddrOid, V_ASN1_UTF8STRING, jid); !s) return s;
    }
    for (const auto& srv : spec.srv_names) {
        if (auto s = push_other_name(names.get(), kDnsSrvOid, V_ASN1_IA5STRING, srv); !s) return s;
    }
    if (sk_GENERAL_NAME_num(names.get()) == 0) return {};
    // RFC 5280 4.2.1.6: with an empty subject the SAN carries the identity and must be critical.
    const bool critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0;
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
        return Error{openssl_error("cannot add subjectAltName")};
    }
    return {};
}

Status add_conf_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    UniqueX509Extension ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        return Error{openssl_error(std::string("cannot add ") + OBJ_nid2sn(nid) + " extension \"" + value + "\"")};
    }
    return {};
}

Status add_extensions(X509* cert, const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : cert, cert, nullptr, nullptr, 0);
    X509V3_set_ctx_nodb(&ctx);

    if (spec.basic_constraints) {
        const char* value = spec.is_ca ? "critical,CA:TRUE" : "CA:FALSE";
        if (auto s = add_conf_extension(cert, &ctx, NID_basic_constraints, value); !s) return s;
    }
    std::string key_usage;
    if (spec.is_ca) {
        key_usage = "critical,keyCertSign,cRLSign";
    } else {
        key_usage = "critical,digitalSignature";
        // TLS 1.2 RSA key exchange encrypts the premaster secret to the certificate key.
        if (EVP_PKEY_is_a(subject_key, "RSA")) key_usage += ",keyEncipherment";
    }
    if (auto s = add_conf_extension(cert, &ctx, NID_key_usage, key_usage); !s) return s;
    if (spec.server_auth || spec.client_auth) {
        std::string eku;
        if (spec.server_auth) eku = "serverAuth";
        if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
        if (auto s = add_conf_extension(cert, &ctx, NID_ext_key_usage, eku); !s) return s;
    }
    if (auto s = add_subject_alt_name(cert, spec); !s) return s;
    if (!spec.ocsp_url.empty())
        if (auto s = add_conf_extension(cert, &ctx, NID_info_access, "OCSP;URI:" + spec.ocsp_url); !s) return s;
    if (spec.must_staple)
        if (auto s = add_conf_extension(cert, &ctx, NID_tlsfeature, "status_request"); !s) return s;
    if (auto s = add_conf_extension(cert, &ctx, NID_subject_key_identifier, "hash"); !s) return s;
    if (issuer_cert) {
        // "issuer" is only a fallback: name+serial are used when the issuer has no SKI (a v1 CA).
        if (auto s = add_conf_extension(cert, &ctx, NID_authority_key_identifier, "keyid,issuer"); !s) return s;
    }
    return {};
}

// EdDSA signs the message itself; X509_sign must then be given no digest.
bool signs_without_digest(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"); }

// ---- files ----------------------------------------------------------------------------

// Writes via a temporary in the same directory and rename(), so the file is either the old
// or the new content. mkstemp creates 0600, so a key is never readable by others, even briefly.
Status write_file_atomically(const fs::path& path, const char* data, std::size_t size, mode_t mode) {
    if (!path.has_filename()) return Error{"cannot write " + display(path) + ": not a file name"};
    std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) return Error{"cannot write " + display(path) + ": " + errno_text(errno)};
    auto fail = [&](int err) -> Status {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return Error{"cannot write " + display(path) + ": " + errno_text(err)};
    };
    if (::fchmod(fd, mode) != 0) return fail(errno);
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno);
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail(errno);
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) return fail(errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
    return {};
}

Status write_bio_to_file(const fs::path& path, BIO* bio, mode_t mode) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len < 0 || (len > 0 && !data)) return Error{openssl_error("cannot write " + display(path))};
    return write_file_atomically(path, data, static_cast<std::size_t>(len), mode);
}

// ---- pki init / issue -----------------------------------------------------------------


// Same file on disk, or (for files not yet created) the same path once normalised.
bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::equivalent(a, b, ec)) return true;
    std::error_code ec_a, ec_b;
    const fs::path abs_a = fs::absolute(a, ec_a);
    const fs::path abs_b = fs::absolute(b, ec_b);
    return !ec_a && !ec_b && abs_a.lexically_normal() == abs_b.lexically_normal();
}

}  // namespace

// ---- keys and certificates ------------------------------------------------------------

Result<UniquePkey> generate_key(const KeySpec& spec) {
    EVP_PKEY* key = nullptr;
    std::string what;
    switch (spec.kind) {
    case KeySpec::Kind::ec:
        what = "EC key on curve \"" + spec.curve + "\"";
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.curve.c_str());
        break;
    case KeySpec::Kind::rsa:
        what = "RSA-" + std::to_string(spec.rsa_bits) + " key";
        if (spec.rsa_bits <= 0) return Error{"cannot generate " + what + ": invalid size"};
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(spec.rsa_bits));
        break;
    case KeySpec::Kind::ed25519:
        what = "Ed25519 key";
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        break;
    }
    if (!key) return Error{openssl_error("cannot generate " + what)};
    return UniquePkey(key);
}

Result<Credential> issue_certificate(const CertSpec& spec, const Credential* issuer) {
    if (spec.version < 1 || spec.version > 3) {
        return Error{"cannot issue certificate: invalid X.509 version " + std::to_string(spec.version)};
    }
    if (issuer && (!issuer->cert || !issuer->key)) return Error{"cannot issue certificate: incomplete issuer"};

    auto key = generate_key(spec.key);
    if (!key) return Error{key.error()};

    UniqueX509 cert(X509_new());
    if (!cert) return Error{openssl_error("cannot issue certificate")};
    X509* x = cert.get();
    X509* issuer_cert = issuer ? issuer->cert.get() : nullptr;
    if (X509_set_version(x, spec.version - 1) != 1) return Error{openssl_error("cannot set certificate version")};
    if (auto s = set_serial(x, spec.serial); !s) return Error{s.error()};
    if (!X509_gmtime_adj(X509_getm_notBefore(x), to_seconds(spec.not_before)) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), to_seconds(spec.not_after))) {
        return Error{openssl_error("cannot set certificate validity")};
    }
    if (auto s = build_subject(x, spec); !s) return Error{s.error()};
    X509_NAME* issuer_name = X509_get_subject_name(issuer_cert ? issuer_cert : x);
    if (X509_set_issuer_name(x, issuer_name) != 1 || X509_set_pubkey(x, key->get()) != 1) {
        return Error{openssl_error("cannot issue certificate")};
    }
    // X.509 v1/v2 have no extensions field; tests use v1 for "not a CA" / legacy-root cases.
    if (spec.version == 3) {
        if (auto s = add_extensions(x, spec, key->get(), issuer_cert); !s) return Error{s.error()};
    }

    EVP_PKEY* signer = issuer ? issuer->key.get() : key->get();
    UniqueMd md;
    if (!signs_without_digest(signer)) {
        md.reset(EVP_MD_fetch(nullptr, spec.digest.c_str(), nullptr));
        if (!md) return Error{openssl_error("cannot issue certificate: unknown digest \"" + spec.digest + "\"")};
    }
    if (X509_sign(x, signer, md.get()) <= 0) return Error{openssl_error("cannot sign certificate")};
    return Credential{std::move(cert), std::move(*key)};
}

// ---- PEM I/O --------------------------------------------------------------------------

Status write_certificate_pem(const fs::path& path, X509* cert, const std::vector<X509*>& chain) {
    if (!cert) return Error{"cannot write " + display(path) + ": no certificate"};
    UniqueBio bio(BIO_new(BIO_s_mem()));
    if (!bio) return Error{openssl_error("cannot write " + display(path))};
    if (PEM_write_bio_X509(bio.get(), cert) != 1) return Error{openssl_error("cannot write " + display(path))};
    for (X509* c : chain) {
        if (!c || PEM_write_bio_X509(bio.get(), c) != 1) return Error{openssl_error("cannot write " + display(path))};
    }
    return write_bio_to_file(path, bio.get(), kCertMode);
}

Status write_private_key_pem(const fs::path& path, EVP_PKEY* key) {
    if (!key) return Error{"cannot write " + display(path) + ": no key"};
    // Secure-memory BIO: its buffer is cleansed when freed.
    UniqueBio bio(BIO_new(BIO_s_secmem()));
    if (!bio) return Error{openssl_error("cannot write " + display(path))};
    if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return Error{openssl_error("cannot write " + display(path))};
    }
    return write_bio_to_file(path, bio.get(), kKeyMode);
}

Result<Credential> read_credential(const fs::path& cert_path, const fs::path& key_path) {
    auto cert = read_certificate_pem(cert_path);
    if (!cert) return Error{cert.error()};
    auto key = read_private_key_pem(key_path);
    if (!key) return Error{key.error()};
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
        return Error{openssl_error("private key " + display(key_path) + " does not match certificate " +
                                   display(cert_path))};
    }
    return Credential{std::move(*cert), std::move(*key)};
}

// ---- ward pki init / issue ------------------------------------------------------------

Result<std::vector<WrittenFile>> pki_init(const fs::path& dir, const PkiInitOptions& options) {
    if (!config::is_host_name(options.domain, /*allow_underscore=*/false)) return Error{"invalid domain \"" + options.domain + "\""};

    struct Node {
        const char* name;
        Credential credential;
    };
    std::vector<Node> nodes;
    nodes.push_back({"xmpp", {}});
    nodes.push_back({"sip", {}});
    nodes.push_back({"admin", {}});

    const fs::path ca_pem = dir / "ca.pem";
    const fs::path ca_key = dir / "ca.key";
    const fs::path trust_pem = dir / "trust" / "ca.pem";
    std::vector<fs::path> targets = {ca_pem, ca_key, trust_pem};
    for (const auto& node : nodes) {
        targets.push_back(dir / (std::string(node.name) + ".pem"));
        targets.push_back(dir / (std::string(node.name) + ".key"));
    }
    // All-or-nothing: check every target before generating or writing anything.
    if (!options.force) {
        for (const auto& t : targets) {
            std::error_code ec;
            if (fs::symlink_status(t, ec).type() != fs::file_type::not_found) {
                return Error{"refusing to overwrite existing " + display(t) + " (force to replace)"};
            }
        }
    }

    CertSpec ca_spec;
    ca_spec.common_names = {kDevCaName};
    ca_spec.is_ca = true;
    ca_spec.server_auth = false;
    ca_spec.client_auth = false;
    // A day beyond the node certificates, so no chain ever outlives its CA.
    ca_spec.not_after += std::chrono::hours(24);
    ca_spec.key = options.key;
    auto ca = issue_certificate(ca_spec, nullptr);
    if (!ca) return Error{ca.error()};

    for (auto& node : nodes) {
        CertSpec spec;
        const std::string host = std::string(node.name) + "." + options.domain;
        spec.common_names = {host};
        spec.dns_names = {host, "localhost"};
        spec.ip_addresses = {"127.0.0.1", "::1"};
        if (std::string_view(node.name) == "xmpp") {
            // RFC 6120 13.7.1.2: the service identity is the bare domain, as DNS-ID, XmppAddr
            // and SRV-IDs for both client and server connections.
            spec.dns_names.push_back(options.domain);
            spec.xmpp_addrs = {options.domain};
            spec.srv_names = {"_xmpp-client." + options.domain, "_xmpp-server." + options.domain};
        }
        spec.key = options.key;
        auto issued = issue_certificate(spec, &*ca);
        if (!issued) return Error{issued.error()};
        node.credential = std::move(*issued);
    }

    if (std::error_code ec; !fs::create_directories(dir / "trust", ec) && ec) {
        return Error{"cannot create directory " + display(dir / "trust") + ": " + ec.message()};
    }

    std::vector<WrittenFile> written;
    const std::string ca_subject = subject_oneline(ca->cert.get());
    if (auto s = write_private_key_pem(ca_key, ca->key.get()); !s) return Error{s.error()};
    if (auto s = write_certificate_pem(ca_pem, ca->cert.get()); !s) return Error{s.error()};
    written.push_back({ca_pem, "CA: " + ca_subject});
    written.push_back({ca_key, "CA private key"});
    for (const auto& node : nodes) {
        const fs::path pem = dir / (std::string(node.name) + ".pem");
        const fs::path key = dir / (std::string(node.name) + ".key");
        if (auto s = write_private_key_pem(key, node.credential.key.get()); !s) return Error{s.error()};
        if (auto s = write_certificate_pem(pem, node.credential.cert.get()); !s) return Error{s.error()};
        written.push_back({pem, "certificate: " + subject_oneline(node.credential.cert.get())});
        written.push_back({key, "private key"});
    }
    if (auto s = write_certificate_pem(trust_pem, ca->cert.get()); !s) return Error{s.error()};
    written.push_back({trust_pem, "trust store: " + ca_subject});
    return written;
}

Result<std::vector<WrittenFile>> pki_issue(const fs::path& ca_cert, const fs::path& ca_key, const CertSpec& spec,
                                           const fs::path& out_cert, const fs::path& out_key) {
    if (same_file(out_cert, out_key)) return Error{"certificate and key output are the same file " + display(out_key)};
    for (const auto& out : {out_cert, out_key}) {
        if (same_file(out, ca_cert) || same_file(out, ca_key)) {
            return Error{"refusing to overwrite the CA's own " + display(out)};
        }
    }
    auto ca = read_credential(ca_cert, ca_key);
    if (!ca) return Error{ca.error()};
    if (X509_check_ca(ca->cert.get()) == 0) return Error{display(ca_cert) + " is not a CA certificate"};

    auto issued = issue_certificate(spec, &*ca);
    if (!issued) return Error{issued.error()};
    if (auto s = write_private_key_pem(out_key, issued->key.get()); !s) return Error{s.error()};
    if (auto s = write_certificate_pem(out_cert, issued->cert.get()); !s) return Error{s.error()};
    return std::vector<WrittenFile>{
        {out_cert, "certificate: " + subject_oneline(issued->cert.get()) + " (issued by " +
                       subject_oneline(ca->cert.get()) + ")"},
        {out_key, "private key"},
    };
}

}  // namespace ward::ops
