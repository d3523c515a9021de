// SPDX-License-Identifier: Apache-2.0
// libFuzzer: certificates from untrusted hands, through everything ward asks of one. A peer's
// certificate arrives as DER in the handshake; a file given to `ward cert import` (or the admin
// API's import) is PEM. The first byte picks the input's form:
//   0 mod 3: the rest is DER;
//   1 mod 3: the rest is PEM text, read by tls::read_certificates_pem (through a memfd);
//   2 mod 3: byte edits (offset high, offset low, xor) of a valid certificate made at start-up
//            with every kind of name ward reads (CNs, dNSName, iPAddress, XmppAddr, SRV-ID,
//            the OCSP URL, must-staple), so the readers past the ASN.1 parse are reached.
// Each certificate then goes through the subject CN rule, the one-line names, the fingerprint,
// the XMPP identifiers and the server identity rule, the SNI names, the OCSP URL and
// must-staple, and the key and usage checks of every security mode.
// Invariants: no crash, no ASan/UBSan report; a subject the peer rule accepts is exactly one
// of the selected ones (ignoring ASCII case) and holds no NUL; a server identity that matches
// is one the certificate names; a refusal always says why.
#include <openssl/x509.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/ops/pki.hpp"
#include "tls/ocsp.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/security_policy.hpp"
#include "tls/sni.hpp"
#include "tls/x509.hpp"
#include "xmpp/identity.hpp"

namespace {

std::string der_of(X509* cert) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert, &der);
    std::string out(reinterpret_cast<const char*>(der), n > 0 ? static_cast<std::size_t>(n) : 0);
    OPENSSL_free(der);
    return out;
}

const std::string& template_der() {
    static const std::string der = [] {
        ward::ops::CertSpec ca_spec;
        ca_spec.common_names = {"fuzz CA"};
        ca_spec.is_ca = true;
        auto ca = ward::ops::issue_certificate(ca_spec, nullptr);
        if (!ca) std::abort();
        ward::ops::CertSpec spec;
        spec.common_names = {"peer.fuzz"};
        spec.dns_names = {"peer.fuzz", "*.chat.fuzz"};
        spec.ip_addresses = {"127.0.0.1", "::1"};
        spec.xmpp_addrs = {"chat.fuzz"};
        spec.srv_names = {"_xmpp-server.chat.fuzz"};
        spec.ocsp_url = "http://127.0.0.1:8080/ocsp";
        spec.must_staple = true;
        auto leaf = ward::ops::issue_certificate(spec, &ca.value());
        if (!leaf) std::abort();
        return der_of(leaf->cert.get());
    }();
    return der;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

void examine(X509* cert) {
    using namespace ward;
    (void)tls::subject_common_names(cert);
    (void)tls::subject_oneline(cert);
    (void)tls::issuer_oneline(cert);
    if (tls::sha256_fingerprint(cert).size() != 32 * 3 - 1) std::abort();

    const std::vector<std::string> selected = {"peer.fuzz", "PEER.other"};
    const auto subject = tls::match_subject(cert, selected);
    if (subject.ok) {
        if (subject.common_name.find('\0') != std::string::npos) std::abort();
        if (!iequals(subject.common_name, selected[0]) && !iequals(subject.common_name, selected[1])) std::abort();
    } else if (subject.reason.empty()) {
        std::abort();
    }
    const auto any = tls::match_subject(cert, {});
    if (!any.ok && any.reason.empty()) std::abort();

    const auto ids = xmpp::presented_identifiers(cert);
    for (const std::string_view domain : {"chat.fuzz", "peer.fuzz", "x.chat.fuzz", "127.0.0.1"}) {
        const auto why = xmpp::check_server_identity(cert, domain);
        // A match needs the certificate to name something, readable.
        if (why.empty() && (ids.unreadable || (ids.dns_ids.empty() && ids.srv_ids.empty() && ids.xmpp_addrs.empty() &&
                                               ids.common_names.empty())))
            std::abort();
    }
    const auto names = tls::certificate_dns_names(cert);
    (void)tls::names_cover(names, "peer.fuzz");
    (void)tls::ocsp_responder(cert);
    (void)tls::must_staple(cert);
    (void)tls::describe_key(cert);
    for (const auto mode : {config::SecurityMode::standard, config::SecurityMode::fips, config::SecurityMode::enhanced,
                            config::SecurityMode::common_criteria}) {
        const tls::SecurityPolicy policy(mode);
        for (const auto role : {tls::CertRole::server, tls::CertRole::client, tls::CertRole::ca, tls::CertRole::end_entity}) {
            const auto why = policy.check_certificate(cert, role);
            if (why && why->empty()) std::abort();
        }
        (void)policy.check_certificate(cert, tls::CertRole::ca, true);
    }
}

void from_der(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (cert == nullptr) return;
    examine(cert);
    X509_free(cert);
}

void from_pem(std::string_view text) {
    static const int fd = memfd_create("ward-fuzz-pem", 0);
    if (fd < 0) std::abort();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) std::abort();
    auto certs = ward::tls::read_certificates_pem("/proc/self/fd/" + std::to_string(fd));
    if (!certs) {
        if (certs.error().empty()) std::abort();
        return;
    }
    for (auto& cert : *certs) examine(cert.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 3) {
        case 0: from_der(rest); break;
        case 1: from_pem(rest); break;
        default: {
            std::string der = template_der();
            for (std::size_t i = 0; i + 2 < rest.size(); i += 3) {
                const auto hi = static_cast<unsigned char>(rest[i]);
                const auto lo = static_cast<unsigned char>(rest[i + 1]);
                const std::size_t at = ((static_cast<std::size_t>(hi) << 8) | lo) % der.size();
                der[at] = static_cast<char>(der[at] ^ rest[i + 2]);
            }
            from_der(der);
        }
    }
    return 0;
}
