// SPDX-License-Identifier: Apache-2.0
// The peer verifier on wolfSSL. wolfSSL verifies the chain itself (its X509_verify_cert checks
// a certificate against the trust store alone, without the peer's intermediates, so it cannot
// stand in for the handshake's verification as on OpenSSL); ward's rules run in the verify
// callback, which this build calls for every certificate of the peer's chain whether it passed
// or not (WOLFSSL_ALWAYS_VERIFY_CB, WOLFSSL_VERIFY_CB_ALL_CERTS): the security mode on each,
// the tolerated missing CRL, the selected subjects on the leaf.
//
// Resumption: wolfSSL offers no hook where a resumed session's peer certificate could be
// verified again against the rules as they are now, so a context that verifies peers issues no
// tickets and keeps no sessions: every connection of it is a full handshake. Contexts that do
// not verify peers resume; their tickets are sealed under keys bound to the session id context
// (tls/ticket_keys_wolfssl.cpp), so a ticket made under another policy does not open.
#include "tls/peer_verifier.hpp"

#include "tls/openssl_error.hpp"
#include "tls/peer_verifier_detail.hpp"
#include "tls/der.hpp"
#include "tls/x509.hpp"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

namespace ward::tls {

namespace detail {

namespace {

void free_string(void* p) { delete static_cast<std::string*>(p); }

int index_of(Slot slot) {
    // (wolfSSL keeps no free callbacks with an index: each value carries its own.)
    static const int reason = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    static const int subject = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    static const int resumed = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    switch (slot) {
        case Slot::reason: return reason;
        case Slot::subject: return subject;
        case Slot::resumed_subject: return resumed;
    }
    return reason;
}

}  // namespace

void set_string(SSL* ssl, Slot slot, std::string value) {
    // (wolfSSL runs the cleanup of the value it replaces.)
    auto* s = new std::string(std::move(value));
    if (wolfSSL_set_ex_data_with_cleanup(ssl, index_of(slot), s, free_string) != WOLFSSL_SUCCESS) delete s;
}

std::string get_string(const SSL* ssl, Slot slot) {
    const auto* s = static_cast<const std::string*>(SSL_get_ex_data(const_cast<SSL*>(ssl), index_of(slot)));
    return s ? *s : std::string();
}

bool missing_required_certificate(const SSL* ssl) {
    // wolfSSL reports the empty Certificate message as its own error.
    auto* s = const_cast<SSL*>(ssl);
    return SSL_is_server(s) && !SSL_is_init_finished(s) && wolfSSL_get_error(s, 0) == NO_PEER_CERT;
}

void reserve_slots() {
    for (auto slot : {Slot::reason, Slot::subject, Slot::resumed_subject}) (void)index_of(slot);
}

}  // namespace detail

namespace {

std::string named(X509* cert) {
    char name[256] = "?";
    if (cert) X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
    return name;
}

int refuse(SSL* ssl, X509_STORE_CTX* store, int error, std::string reason) {
    X509_STORE_CTX_set_error(store, error);
    detail::set_string(ssl, detail::Slot::reason, std::move(reason));
    return 0;
}

// What wolfSSL reports in the store context (its own error numbers: this build keeps wolfSSL's
// defaults) as the X509_V_ERR code OpenSSL would give; 0 when it has none.
int x509_error_of(int error) {
    switch (error) {
        case ASN_BEFORE_DATE_E: return X509_V_ERR_CERT_NOT_YET_VALID;
        case ASN_AFTER_DATE_E: return X509_V_ERR_CERT_HAS_EXPIRED;
        case ASN_NO_SIGNER_E: return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
        case ASN_SELF_SIGNED_E: return X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
        case ASN_PATHLEN_INV_E:
        case ASN_PATHLEN_SIZE_E: return X509_V_ERR_PATH_LENGTH_EXCEEDED;
        case ASN_SIG_OID_E:
        case ASN_SIG_CONFIRM_E:
        case ASN_SIG_HASH_E:
        case ASN_SIG_KEY_E: return X509_V_ERR_CERT_SIGNATURE_FAILURE;
        case ASN_CRIT_EXT_E: return X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION;
        case CRL_CERT_REVOKED: return X509_V_ERR_CERT_REVOKED;
        case CRL_MISSING: return X509_V_ERR_UNABLE_TO_GET_CRL;
        case CRL_CERT_DATE_ERR: return X509_V_ERR_CRL_HAS_EXPIRED;
        default: return error > 0 ? error : 0;
    }
}

std::string error_text(int raw, int code) {
    if (code != 0) return X509_verify_cert_error_string(code);
    const char* text = wolfSSL_ERR_reason_error_string(static_cast<unsigned long>(raw));
    return text ? text : "certificate verify failed";
}

// The extensions a pinned certificate may mark critical: those wolfSSL's parser acts on, whose
// verdicts a missing issuer does not hide (ParseCertRelative stops at the issuer before it
// reports an unknown critical extension).
bool known_critical(std::string_view id) {
    for (const char* oid : {"2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17"})
        if (id == der::known_oid(oid)) return true;
    return false;
}

// A peer certificate placed in the trust store itself is its own anchor, as OpenSSL's partial
// chains make it (wolfSSL finds no issuer for it): byte for byte the same certificate, within its
// validity period, no critical extension wolfSSL did not get to judge, and only where revocation
// does not come into it: wolfSSL looks no CRL up for a certificate it found no issuer for, so a
// store with CRLs, or CRLs required, refuses it rather than let a revoked one pass.
bool pinned(X509* cert, const PeerRules& rules, std::string& why) {
    if (cert == nullptr || rules.trusted_der.empty()) return false;
    const auto certificate = certificate_der(cert);
    if (certificate.empty()) return false;
    bool found = false;
    for (const auto& t : rules.trusted_der) found = found || t == certificate;
    if (!found) return false;
    if (rules.trusted_crls || rules.crl_missing == config::CrlMissing::reject) {
        why = "a certificate pinned in the trust store cannot be checked for revocation in this build "
              "(wolfSSL); trust its issuer instead";
        return false;
    }
    const auto parts = der::read_certificate(certificate);
    if (!parts) return false;
    for (const auto& e : parts->extensions)
        if (e.critical && !known_critical(e.id)) {
            why = X509_verify_cert_error_string(X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION);
            return false;
        }
    if (X509_cmp_current_time(X509_get_notBefore(cert)) >= 0) {
        why = X509_verify_cert_error_string(X509_V_ERR_CERT_NOT_YET_VALID);
        return false;
    }
    if (X509_cmp_current_time(X509_get_notAfter(cert)) <= 0) {
        why = X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED);
        return false;
    }
    return true;
}

int verify_callback(int ok, X509_STORE_CTX* store) {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl == nullptr) return 0;  // never vouch for a chain outside a connection
    // Verification off (a client connection told not to verify): the library's verdict stands
    // for nothing, and ward neither refuses nor records a subject.
    if (!(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) return 1;
    const PeerRules* rules = peer_rules(ssl);
    if (rules == nullptr) return 0;
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    const int depth = X509_STORE_CTX_get_error_depth(store);
    // An empty Certificate message: wolfSSL calls back once with a certificate holding nothing.
    // Where a certificate is required wolfSSL has refused the handshake already; where it is
    // optional, there is simply no peer subject.
    int der_size = 0;
    if (ok && depth == 0 && (cert == nullptr || wolfSSL_X509_get_der(cert, &der_size) == nullptr || der_size <= 0)) {
        if (SSL_get_verify_mode(ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
            return refuse(ssl, store, X509_V_ERR_UNSPECIFIED,
                          "the peer presented no certificate, and this TLS context requires one (verify_peer: required)");
        return 1;
    }
    // wolfSSL cuts a chain longer than its limit short without calling back about it; what it
    // noted on the connection says so from the first call on (before any override of ward's
    // resets it: review finding).
    if (SSL_get_verify_result(ssl) == X509_V_ERR_CERT_CHAIN_TOO_LONG)
        return refuse(ssl, store, X509_V_ERR_CERT_CHAIN_TOO_LONG,
                      "certificate verification failed: the chain is longer than " + std::to_string(kMaxChainDepth + 1) +
                          " certificates");
    if (depth > kMaxChainDepth)
        return refuse(ssl, store, X509_V_ERR_CERT_CHAIN_TOO_LONG,
                      "certificate verification failed: the chain is longer than " + std::to_string(kMaxChainDepth + 1) +
                          " certificates");
    if (!ok) {
        const int raw = X509_STORE_CTX_get_error(store);
        const int error = x509_error_of(raw);
        std::string pin_refusal;
        const bool anchored = depth == 0 &&
                              (error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                               error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) &&
                              pinned(cert, *rules, pin_refusal);
        const bool tolerated = rules->crl_missing == config::CrlMissing::accept && error == X509_V_ERR_UNABLE_TO_GET_CRL;
        if (!anchored && !tolerated) {
            const int code = error == X509_V_OK ? X509_V_ERR_UNSPECIFIED : error;
            const std::string text = pin_refusal.empty() ? error_text(raw, error) : pin_refusal;
            return refuse(ssl, store, code,
                          "certificate verification failed: " + text + " (depth " + std::to_string(depth) + ", " +
                              named(cert) + ")");
        }
        X509_STORE_CTX_set_error(store, X509_V_OK);
        // wolfSSL recorded its verdict on the connection before asking: ward's overrides it.
        SSL_set_verify_result(ssl, X509_V_OK);
    }
    if (cert == nullptr) return refuse(ssl, store, X509_V_ERR_UNSPECIFIED, "the peer's certificate cannot be read");
    // The mode's rules on every certificate the peer sent; a self-signed one above the leaf is
    // the anchor (whose self-signature is not relied upon).
    const bool peer_is_client = SSL_is_server(ssl);
    const bool anchor = depth > 0 && X509_check_issued(cert, cert) == X509_V_OK;
    const CertRole role = depth == 0 ? (peer_is_client ? CertRole::client : CertRole::server) : CertRole::ca;
    if (auto why = rules->policy.check_certificate(cert, role, anchor))
        return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION,
                      std::string(config::to_string(rules->policy.mode())) + " mode refuses " +
                          (depth == 0 ? "the peer certificate " : "the issuer certificate ") + named(cert) + ": " + *why);
    if (depth == 0) {
        auto match = match_subject(cert, rules->subjects);
        if (!match.ok) return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION, std::move(match.reason));
        detail::set_string(ssl, detail::Slot::subject, std::move(match.common_name));
    }
    clear_openssl_errors();
    return 1;
}

}  // namespace

void install_peer_verifier(SSL_CTX* ctx, const PeerRules* rules) {
    detail::install_rules(ctx, rules);
    SSL_CTX_set_session_id_context(ctx, rules->session_context.data(),
                                   static_cast<unsigned int>(rules->session_context.size()));
    SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_callback);
    if (rules->verify != config::VerifyPeer::none) {
        // No resumption where peers are verified (see the top of this file).
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
}

}  // namespace ward::tls
