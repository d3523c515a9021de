// SPDX-License-Identifier: Apache-2.0
// The flavour-neutral half of the peer verifier: the subject rule, the context's rules and what
// the engine asks after a handshake. The checks inside the handshake, and the per-connection
// slots, are the flavour's (peer_verifier_openssl.cpp, peer_verifier_wolfssl.cpp).
#include "tls/peer_verifier.hpp"

#include <strings.h>

#include "tls/peer_verifier_detail.hpp"
#include "tls/x509.hpp"

namespace ward::tls {

namespace {

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

SubjectMatch match_subject(X509* cert, const std::vector<std::string>& subjects) {
    SubjectMatch out;
    std::size_t unreadable = 0;
    auto names = subject_common_names(cert, &unreadable);
    if (unreadable > 0) {
        out.reason = "the subject CN is not a valid string";
        return out;
    }
    const auto count = names.size();
    if (count == 1) out.common_name = std::move(names.front());
    if (count == 0) {
        out.reason = "the peer certificate has no subject CN";
        return out;
    }
    if (count > 1) {
        out.reason = "the peer certificate has " + std::to_string(count) + " subject CNs; exactly one is accepted";
        return out;
    }
    if (out.common_name.find('\0') != std::string::npos) {
        out.reason = "the peer certificate's subject CN holds a NUL byte";
        out.common_name.clear();
        return out;
    }
    if (subjects.empty()) {
        out.ok = true;
        return out;
    }
    for (const auto& s : subjects) {
        if (equal_ignoring_ascii_case(s, out.common_name)) {
            out.ok = true;
            return out;
        }
    }
    out.reason = "peer subject '" + out.common_name + "' is not selected in this TLS context";
    return out;
}

namespace {

int rules_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}
}  // namespace

const PeerRules* peer_rules(const SSL* ssl) {
    return static_cast<const PeerRules*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), rules_index()));
}

void detail::install_rules(SSL_CTX* ctx, const PeerRules* rules) {
    SSL_CTX_set_ex_data(ctx, rules_index(), const_cast<PeerRules*>(rules));
}

std::string peer_refusal_reason(const SSL* ssl) {
    auto reason = detail::get_string(ssl, detail::Slot::reason);
    if (!reason.empty()) return reason;
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) return std::string("certificate verification failed: ") +
                                    X509_verify_cert_error_string(result);
    // A required client certificate that never came: the library fails the handshake while
    // reading the client's (empty) Certificate message, before any verification runs.
    if (detail::missing_required_certificate(ssl))
        return "the peer presented no certificate, and this TLS context requires one (verify_peer: required)";
    return {};
}

std::string verified_peer_subject(const SSL* ssl) {
    if (SSL_get_verify_result(ssl) != X509_V_OK) return {};
    // A resumed session skipped verification: its subject is the one check_ticket re-verified.
    return detail::get_string(ssl, SSL_session_reused(ssl) ? detail::Slot::resumed_subject : detail::Slot::subject);
}

}  // namespace ward::tls
