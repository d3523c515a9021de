// SPDX-License-Identifier: Apache-2.0
// Keys, certificates and CRLs for proxy/ops/pki.hpp: the certificate and CRL bodies are
// written as DER here (tls/der.hpp) and only signed and parsed by the library, so both TLS
// flavours issue the same certificates. The files and `ward pki init/issue` are pki.cpp's.
#include "proxy/ops/pki.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proxy/ops/secrets.hpp"
#include "tls/crypto.hpp"
#include "tls/der.hpp"
#include "tls/flavour.hpp"
#include "tls/openssl_error.hpp"

namespace ward::ops {

using namespace tls;  // the TLS module's handles, readers and policy, used throughout
namespace {

namespace oid {
constexpr std::string_view common_name = "2.5.4.3";
constexpr std::string_view organization = "2.5.4.10";
constexpr std::string_view subject_key_id = "2.5.29.14";
constexpr std::string_view key_usage = "2.5.29.15";
constexpr std::string_view subject_alt_name = "2.5.29.17";
constexpr std::string_view basic_constraints = "2.5.29.19";
constexpr std::string_view authority_key_id = "2.5.29.35";
constexpr std::string_view ext_key_usage = "2.5.29.37";
constexpr std::string_view authority_info_access = "1.3.6.1.5.5.7.1.1";
constexpr std::string_view tls_feature = "1.3.6.1.5.5.7.1.24";  // RFC 7633
constexpr std::string_view server_auth = "1.3.6.1.5.5.7.3.1";
constexpr std::string_view client_auth = "1.3.6.1.5.5.7.3.2";
constexpr std::string_view xmpp_addr = "1.3.6.1.5.5.7.8.5";  // id-on-xmppAddr, RFC 6120
constexpr std::string_view dns_srv = "1.3.6.1.5.5.7.8.7";    // id-on-dnsSRV, RFC 4985
constexpr std::string_view ocsp = "1.3.6.1.5.5.7.48.1";
}  // namespace oid

// keyUsage bits, RFC 5280 4.2.1.3.
constexpr std::uint32_t kDigitalSignature = 1u << 0;
constexpr std::uint32_t kKeyEncipherment = 1u << 2;
constexpr std::uint32_t kKeyCertSign = 1u << 5;
constexpr std::uint32_t kCrlSign = 1u << 6;

Result<der::Bytes> public_key_info(EVP_PKEY* key) {
    const int size = i2d_PUBKEY(key, nullptr);
    if (size <= 0) return Error{openssl_error("cannot encode public key")};
    der::Bytes out(static_cast<std::size_t>(size), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    if (i2d_PUBKEY(key, &p) != size) return Error{openssl_error("cannot encode public key")};
    return out;
}

// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
Result<std::string> key_identifier(std::string_view spki) {
    der::Reader outer(spki);
    auto info = outer.next_if(der::tag::sequence);
    if (!info) return Error{"cannot read public key"};
    der::Reader fields(info->content);
    auto bits = fields.next_if(der::tag::sequence) ? fields.next_if(der::tag::bit_string) : std::nullopt;
    if (!bits || bits->content.empty()) return Error{"cannot read public key"};
    auto digest = crypto::sha1(crypto::bytes(bits->content.substr(1)));
    if (!digest) return Error{openssl_error("cannot hash public key")};
    return std::string(reinterpret_cast<const char*>(digest->data()), digest->size());
}

// What a certificate says of the one it issues: its subject (the new issuer), and for the
// authority key identifier its own key identifier or, without one, its issuer and serial.
struct IssuerFacts {
    der::Bytes subject;
    der::Bytes issuer;
    std::string serial;  // INTEGER content octets
    std::optional<std::string> key_id;
};

Result<IssuerFacts> read_issuer(X509* cert) {
    const std::string encoded = certificate_der(cert);
    const auto parts = der::read_certificate(encoded);
    if (!parts) return Error{"cannot read the issuer certificate"};
    IssuerFacts facts{der::Bytes(parts->subject), der::Bytes(parts->issuer), std::string(parts->serial), {}};
    const der::Bytes wanted = der::known_oid(oid::subject_key_id);
    for (const auto& extension : parts->extensions) {
        if (extension.id != wanted) continue;
        der::Reader value(extension.value);
        if (auto key_id = value.next_if(der::tag::octet_string)) facts.key_id = std::string(key_id->content);
    }
    return facts;
}

der::Bytes name(const CertSpec& spec) {
    auto attribute = [](std::string_view type, std::string_view value) {
        // UTF8String: no X.520 length limits, which tests deliberately exceed; one RDN each.
        return der::tlv(der::tag::set, der::sequence(der::known_oid(type) + der::tlv(der::tag::utf8_string, value)));
    };
    // DER order is least specific first, so the one-line form reads "CN=x, O=ward".
    der::Bytes rdns;
    if (!spec.organization.empty()) rdns += attribute(oid::organization, spec.organization);
    for (const auto& cn : spec.common_names) rdns += attribute(oid::common_name, cn);
    return der::sequence(rdns);
}

Result<der::Bytes> serial_number(long serial) {
    if (serial != 0) return der::integer(serial);
    unsigned char bytes[16];
    if (!crypto::random_bytes(bytes)) return Error{openssl_error("cannot generate serial number")};
    // Top bit clear keeps the DER INTEGER positive without a pad octet; the next bit set keeps
    // leading zeros from shortening it, so every random serial is exactly 16 octets.
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
    return der::unsigned_integer(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

der::Bytes extension(std::string_view id, bool critical, std::string_view value) {
    return der::sequence(der::known_oid(id) + (critical ? der::boolean(true) : der::Bytes()) +
                         der::tlv(der::tag::octet_string, value));
}

der::Bytes other_name(std::string_view type, unsigned char string_tag, std::string_view value) {
    return der::tlv(der::tag::context_constructed(0),
                    der::known_oid(type) + der::tlv(der::tag::context_constructed(0), der::tlv(string_tag, value)));
}

// GeneralNames content (without the SEQUENCE), empty when the spec names nothing.
Result<der::Bytes> alt_names(const CertSpec& spec) {
    der::Bytes names;
    for (const auto& dns : spec.dns_names) names += der::tlv(der::tag::context(2), dns);
    for (const auto& ip : spec.ip_addresses) {
        unsigned char address[16];
        if (::inet_pton(AF_INET, ip.c_str(), address) == 1) {
            names += der::tlv(der::tag::context(7), std::string_view(reinterpret_cast<const char*>(address), 4));
        } else if (::inet_pton(AF_INET6, ip.c_str(), address) == 1) {
            names += der::tlv(der::tag::context(7), std::string_view(reinterpret_cast<const char*>(address), 16));
        } else {
            return Error{"cannot build subjectAltName: invalid IP address \"" + ip + "\""};
        }
    }
    for (const auto& jid : spec.xmpp_addrs) names += other_name(oid::xmpp_addr, der::tag::utf8_string, jid);
    for (const auto& srv : spec.srv_names) names += other_name(oid::dns_srv, der::tag::ia5_string, srv);
    return names;
}

Result<der::Bytes> extensions(const CertSpec& spec, EVP_PKEY* subject_key, std::string_view key_id,
                              const IssuerFacts* issuer, bool empty_subject) {
    der::Bytes out;
    if (spec.basic_constraints) {
        out += spec.is_ca ? extension(oid::basic_constraints, true, der::sequence(der::boolean(true)))
                          : extension(oid::basic_constraints, false, der::sequence(""));
    }
    std::uint32_t usage = kDigitalSignature;
    if (spec.is_ca) {
        usage = kKeyCertSign | kCrlSign;
    } else if (EVP_PKEY_is_a(subject_key, "RSA")) {
        // TLS 1.2 RSA key exchange encrypts the premaster secret to the certificate key.
        usage |= kKeyEncipherment;
    }
    out += extension(oid::key_usage, true, der::named_bits(usage));
    if (spec.server_auth || spec.client_auth) {
        der::Bytes purposes;
        if (spec.server_auth) purposes += der::known_oid(oid::server_auth);
        if (spec.client_auth) purposes += der::known_oid(oid::client_auth);
        out += extension(oid::ext_key_usage, false, der::sequence(purposes));
    }
    auto names = alt_names(spec);
    if (!names) return Error{names.error()};
    // RFC 5280 4.2.1.6: with an empty subject the SAN carries the identity and must be critical.
    if (!names->empty()) out += extension(oid::subject_alt_name, empty_subject, der::sequence(*names));
    if (!spec.ocsp_url.empty()) {
        const der::Bytes access = der::sequence(der::known_oid(oid::ocsp) + der::tlv(der::tag::context(6), spec.ocsp_url));
        out += extension(oid::authority_info_access, false, der::sequence(access));
    }
    if (spec.must_staple) out += extension(oid::tls_feature, false, der::sequence(der::integer(5)));  // status_request
    for (const auto& id : spec.critical_extensions) {
        const auto encoded = der::object_identifier(id);
        if (!encoded) return Error{"cannot build an extension: invalid OID \"" + id + "\""};
        out += der::sequence(*encoded + der::boolean(true) + der::tlv(der::tag::octet_string, der::tlv(der::tag::null, "")));
    }
    out += extension(oid::subject_key_id, false, der::tlv(der::tag::octet_string, key_id));
    if (issuer) {
        // The issuer's key identifier; an issuer without one (a v1 CA) is named by its issuer
        // and serial instead.
        const der::Bytes akid =
            issuer->key_id ? der::tlv(der::tag::context(0), *issuer->key_id)
                           : der::tlv(der::tag::context_constructed(1), der::tlv(der::tag::context_constructed(4), issuer->issuer)) +
                                 der::tlv(der::tag::context(2), issuer->serial);
        out += extension(oid::authority_key_id, false, der::sequence(akid));
    }
    return out;
}

// EdDSA signs the message itself; it takes no digest.
bool signs_without_digest(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"); }

// The AlgorithmIdentifier of `signer` signing with `md` (nullptr for EdDSA).
Result<der::Bytes> signature_algorithm(EVP_PKEY* signer, const EVP_MD* md, const std::string& digest_name) {
    if (EVP_PKEY_is_a(signer, "ED25519")) return der::sequence(der::known_oid("1.3.101.112"));
    if (EVP_PKEY_is_a(signer, "ED448")) return der::sequence(der::known_oid("1.3.101.113"));
    const int digest = EVP_MD_type(md);
    std::string_view id;
    if (EVP_PKEY_is_a(signer, "EC")) {
        switch (digest) {
        case NID_sha1: id = "1.2.840.10045.4.1"; break;
        case NID_sha224: id = "1.2.840.10045.4.3.1"; break;
        case NID_sha256: id = "1.2.840.10045.4.3.2"; break;
        case NID_sha384: id = "1.2.840.10045.4.3.3"; break;
        case NID_sha512: id = "1.2.840.10045.4.3.4"; break;
        default: break;
        }
        // RFC 5758 3.2: the parameters are absent.
        if (!id.empty()) return der::sequence(der::known_oid(id));
    } else if (EVP_PKEY_is_a(signer, "RSA")) {
        switch (digest) {
        case NID_md5: id = "1.2.840.113549.1.1.4"; break;
        case NID_sha1: id = "1.2.840.113549.1.1.5"; break;
        case NID_sha224: id = "1.2.840.113549.1.1.14"; break;
        case NID_sha256: id = "1.2.840.113549.1.1.11"; break;
        case NID_sha384: id = "1.2.840.113549.1.1.12"; break;
        case NID_sha512: id = "1.2.840.113549.1.1.13"; break;
        default: break;
        }
        // RFC 4055 5: the parameters are NULL.
        if (!id.empty()) return der::sequence(der::known_oid(id) + der::tlv(der::tag::null, ""));
    }
    return Error{"cannot sign a certificate with digest \"" + digest_name + "\" and this key"};
}

// The digest `signer` signs with (none for EdDSA) and the AlgorithmIdentifier that names the
// pair, for a certificate or a CRL (`what`, for the messages).
struct Signing {
    UniqueMd md;
    der::Bytes algorithm;
};

Result<Signing> signing_with(EVP_PKEY* signer, const std::string& digest, const std::string& what) {
    Signing out;
    if (!signs_without_digest(signer)) {
        out.md.reset(EVP_MD_fetch(nullptr, digest.c_str(), nullptr));
        if (!out.md) return Error{openssl_error("cannot issue " + what + ": unknown digest \"" + digest + "\"")};
    }
    auto algorithm = signature_algorithm(signer, out.md.get(), digest);
    if (!algorithm) return Error{algorithm.error()};
    out.algorithm = std::move(*algorithm);
    return out;
}

Result<std::string> sign(EVP_PKEY* signer, const EVP_MD* md, std::string_view message) {
    std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
    const auto* data = reinterpret_cast<const unsigned char*>(message.data());
    std::size_t size = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, signer) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size, data, message.size()) != 1) {
        return Error{openssl_error("cannot sign certificate")};
    }
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data, message.size()) != 1) {
        return Error{openssl_error("cannot sign certificate")};
    }
    signature.resize(size);
    return signature;
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
        if constexpr (!tls::flavour::kEdDsa) {
            return Error{"cannot generate " + what + ": ward is built with wolfSSL, whose OpenSSL compatibility layer "
                         "has no EdDSA keys (use an EC or RSA key)"};
        }
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
    EVP_PKEY* signer = issuer ? issuer->key.get() : key->get();
    auto signing = signing_with(signer, spec.digest, "certificate");
    if (!signing) return Error{signing.error()};
    const der::Bytes& algorithm = signing->algorithm;

    std::optional<IssuerFacts> facts;
    if (issuer) {
        auto read = read_issuer(issuer->cert.get());
        if (!read) return Error{read.error()};
        facts = std::move(*read);
    }
    auto spki = public_key_info(key->get());
    if (!spki) return Error{spki.error()};
    auto serial = serial_number(spec.serial);
    if (!serial) return Error{serial.error()};
    const der::Bytes subject = name(spec);

    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    der::Bytes tbs;
    if (spec.version > 1) tbs += der::tlv(der::tag::context_constructed(0), der::integer(spec.version - 1));
    tbs += *serial + algorithm + (facts ? facts->subject : subject);
    try {
        tbs += der::sequence(der::time(now + spec.not_before) + der::time(now + spec.not_after));
    } catch (const std::range_error&) {
        return Error{"cannot set certificate validity: out of range"};
    }
    tbs += subject + *spki;
    // X.509 v1/v2 have no extensions field; tests use v1 for "not a CA" / legacy-root cases.
    if (spec.version == 3) {
        auto key_id = key_identifier(*spki);
        if (!key_id) return Error{key_id.error()};
        auto list = extensions(spec, key->get(), *key_id, facts ? &*facts : nullptr, spec.common_names.empty() && spec.organization.empty());
        if (!list) return Error{list.error()};
        tbs += der::tlv(der::tag::context_constructed(3), der::sequence(*list));
    }
    tbs = der::sequence(tbs);

    auto signature = sign(signer, signing->md.get(), tbs);
    if (!signature) return Error{signature.error()};
    const der::Bytes certificate = der::sequence(tbs + algorithm + der::bit_string(*signature));
    const auto* p = reinterpret_cast<const unsigned char*>(certificate.data());
    UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(certificate.size())));
    if (!cert) return Error{openssl_error("cannot read the certificate just issued")};
    return Credential{std::move(cert), std::move(*key)};
}

Result<std::string> issue_crl(const CrlSpec& spec, const Credential& issuer) {
    if (!issuer.cert || !issuer.key) return Error{"cannot issue CRL: incomplete issuer"};
    EVP_PKEY* signer = issuer.key.get();
    auto signing = signing_with(signer, spec.digest, "CRL");
    if (!signing) return Error{signing.error()};
    const der::Bytes& algorithm = signing->algorithm;
    auto facts = read_issuer(issuer.cert.get());
    if (!facts) return Error{facts.error()};
    if (!facts->key_id) return Error{"cannot issue CRL: the issuer certificate has no subject key identifier"};

    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    der::Bytes this_update;
    der::Bytes next_update;
    try {
        this_update = der::time(now + spec.this_update);
        next_update = der::time(now + spec.next_update);
    } catch (const std::range_error&) {
        return Error{"cannot issue CRL: time out of range"};
    }
    std::vector<long> serials = spec.revoked_serials;
    std::sort(serials.begin(), serials.end());
    der::Bytes revoked;
    for (long serial : serials) revoked += der::sequence(der::integer(serial) + this_update);

    der::Bytes tbs = der::integer(1) + algorithm + facts->subject + this_update + next_update;
    if (!revoked.empty()) tbs += der::sequence(revoked);
    const der::Bytes crl_extensions =
        extension(oid::authority_key_id, false, der::sequence(der::tlv(der::tag::context(0), *facts->key_id))) +
        extension("2.5.29.20", false, der::integer(spec.number));  // cRLNumber
    tbs = der::sequence(tbs + der::tlv(der::tag::context_constructed(0), der::sequence(crl_extensions)));

    auto signature = sign(signer, signing->md.get(), tbs);
    if (!signature) return Error{signature.error()};
    const der::Bytes crl = der::sequence(tbs + algorithm + der::bit_string(*signature));
    std::string pem = "-----BEGIN X509 CRL-----\n";
    const std::string text = base64(crl);
    for (std::size_t i = 0; i < text.size(); i += 64) pem += text.substr(i, 64) + "\n";
    return pem + "-----END X509 CRL-----\n";
}

}  // namespace ward::ops
