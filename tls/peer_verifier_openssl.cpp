// SPDX-License-Identifier: Apache-2.0
// The peer verifier on OpenSSL: libssl's certificate verification replaced by check_peer
// (SSL_CTX_set_cert_verify_callback), and every resumption re-verified (the session ticket
// callback).
#include "tls/peer_verifier.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/peer_verifier_detail.hpp"
#include "tls/x509.hpp"

namespace ward::tls {

namespace detail {

namespace {

void free_string(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

int index_of(Slot slot) {
    static const int reason = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_string);
    static const int subject = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_string);
    static const int resumed = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_string);
    switch (slot) {
        case Slot::reason: return reason;
        case Slot::subject: return subject;
        case Slot::resumed_subject: return resumed;
    }
    return reason;
}

}  // namespace

void set_string(SSL* ssl, Slot slot, std::string value) {
    const int index = index_of(slot);
    delete static_cast<std::string*>(SSL_get_ex_data(ssl, index));
    SSL_set_ex_data(ssl, index, new std::string(std::move(value)));
}

std::string get_string(const SSL* ssl, Slot slot) {
    const auto* s = static_cast<const std::string*>(SSL_get_ex_data(ssl, index_of(slot)));
    return s ? *s : std::string();
}

void reserve_slots() {
    for (auto slot : {Slot::reason, Slot::subject, Slot::resumed_subject}) (void)index_of(slot);
}

bool missing_required_certificate(const SSL* ssl) {
    // libssl fails the handshake while reading the client's (empty) Certificate message.
    return SSL_is_server(ssl) && !SSL_is_init_finished(ssl) && SSL_get_state(ssl) == TLS_ST_SR_CERT &&
           SSL_get0_peer_certificate(ssl) == nullptr && (SSL_get_verify_mode(ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

}  // namespace detail

namespace {

using detail::PeerCheck;

// Tolerates a missing CRL when the operator chose crl_missing: accept. The error is cleared as
// well: libssl takes the connection's verify result from the store context afterwards, and a
// left-over UNABLE_TO_GET_CRL would make an accepted peer look unverified.
int accept_missing_crl(int ok, X509_STORE_CTX* ctx) {
    if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) {
        X509_STORE_CTX_set_error(ctx, X509_V_OK);
        return 1;
    }
    return ok;
}

// Every rule a peer certificate must pass, on a store context initialised with it: the chain
// reaches the trust store (CRLs and validity included), the mode's rules hold for every
// certificate in it, and the leaf's subject is selected.
PeerCheck check_peer(X509_STORE_CTX* store_ctx, const PeerRules& rules, bool peer_is_client) {
    PeerCheck out;
    if (rules.crl_missing == config::CrlMissing::accept) X509_STORE_CTX_set_verify_cb(store_ctx, accept_missing_crl);
    if (X509_verify_cert(store_ctx) != 1) {
        out.error = X509_STORE_CTX_get_error(store_ctx);
        if (out.error == X509_V_OK) out.error = X509_V_ERR_UNSPECIFIED;
        const int depth = X509_STORE_CTX_get_error_depth(store_ctx);
        out.reason = std::string("certificate verification failed: ") + X509_verify_cert_error_string(out.error);
        if (X509* bad = X509_STORE_CTX_get_current_cert(store_ctx)) {
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(bad), name, sizeof name);
            out.reason += " (depth " + std::to_string(depth) + ", " + name + ")";
        }
        clear_openssl_errors();
        return out;
    }

    // The chain reached a trust anchor: now the mode's rules on every certificate in it.
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store_ctx);
    const int n = chain ? sk_X509_num(chain) : 0;
    for (int i = 0; i < n; ++i) {
        X509* cert = sk_X509_value(chain, i);
        const bool anchor = i == n - 1 && (X509_get_extension_flags(cert) & EXFLAG_SS);
        const CertRole role = i == 0 ? (peer_is_client ? CertRole::client : CertRole::server) : CertRole::ca;
        if (auto why = rules.policy.check_certificate(cert, role, anchor)) {
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
            out.error = X509_V_ERR_APPLICATION_VERIFICATION;
            out.reason = std::string(config::to_string(rules.policy.mode())) + " mode refuses " +
                         (i == 0 ? "the peer certificate " : "the issuer certificate ") + name + ": " + *why;
            return out;
        }
    }

    auto match = match_subject(X509_STORE_CTX_get0_cert(store_ctx), rules.subjects);
    if (!match.ok) {
        out.error = X509_V_ERR_APPLICATION_VERIFICATION;
        out.reason = std::move(match.reason);
        return out;
    }
    out.subject = std::move(match.common_name);
    return out;
}

// Full handshakes: libssl's certificate verification, replaced by check_peer.
int verify_peer(X509_STORE_CTX* store_ctx, void* arg) {
    const auto* rules = static_cast<const PeerRules*>(arg);
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto check = check_peer(store_ctx, *rules, ssl && SSL_is_server(ssl));
    if (check.error != X509_V_OK) {
        X509_STORE_CTX_set_error(store_ctx, check.error);
        if (ssl) detail::set_string(ssl, detail::Slot::reason, std::move(check.reason));
        return 0;
    }
    if (ssl) detail::set_string(ssl, detail::Slot::subject, std::move(check.subject));
    return 1;
}

// Whether a session a client wants to resume may be resumed under `rules` as they are now.
bool resumable(SSL* ssl, SSL_SESSION* session, const PeerRules& rules) {
    unsigned int length = 0;
    const unsigned char* id_context = SSL_SESSION_get0_id_context(session, &length);
    if (length != rules.session_context.size() ||
        CRYPTO_memcmp(id_context, rules.session_context.data(), length) != 0)
        return false;  // made under another policy (OpenSSL would refuse it too)
    // A TLS 1.2 resumption keeps the session's cipher, checked by OpenSSL only against the
    // client's offer: it must still be one the context selects.
    // (A plain scan: sk_find may sort the context's shared list, from any worker's thread.)
    const SSL_CIPHER* cipher = SSL_SESSION_get0_cipher(session);
    STACK_OF(SSL_CIPHER)* allowed = SSL_get_ciphers(ssl);
    bool selected = false;
    for (int i = 0; cipher && allowed && !selected && i < sk_SSL_CIPHER_num(allowed); ++i)
        selected = SSL_CIPHER_get_id(sk_SSL_CIPHER_value(allowed, i)) == SSL_CIPHER_get_id(cipher);
    if (!selected) return false;
    X509* peer = SSL_SESSION_get0_peer(session);
    const int mode = SSL_get_verify_mode(ssl);  // the connection's: a listener may demand more
    if (peer == nullptr) {
        // No certificate when the session was made: fine only while none is required.
        if (mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) return false;
        detail::set_string(ssl, detail::Slot::resumed_subject, {});
        return true;
    }
    if (!(mode & SSL_VERIFY_PEER)) return false;  // verification is off now: never vouch for it
    X509_STORE* store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    UniqueX509StoreCtx store_ctx(X509_STORE_CTX_new());
    if (!store_ctx || X509_STORE_CTX_init(store_ctx.get(), store, peer, nullptr) != 1) {
        clear_openssl_errors();
        return false;
    }
    // As libssl verifies a peer: the purpose of its role, the connection's parameters.
    const bool peer_is_client = SSL_is_server(ssl);
    X509_STORE_CTX_set_default(store_ctx.get(), peer_is_client ? "ssl_client" : "ssl_server");
    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(store_ctx.get()), SSL_get0_param(ssl));
    auto check = check_peer(store_ctx.get(), rules, peer_is_client);
    if (check.error != X509_V_OK) return false;
    detail::set_string(ssl, detail::Slot::resumed_subject, std::move(check.subject));
    return true;
}

SSL_TICKET_RETURN check_ticket(SSL* ssl, SSL_SESSION* session, const unsigned char*, size_t, SSL_TICKET_STATUS status,
                               void* arg) {
    switch (status) {
        case SSL_TICKET_SUCCESS:
        case SSL_TICKET_SUCCESS_RENEW:
            break;
        default:  // no ticket, or one ward cannot open: a full handshake and a new ticket
            return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    if (!resumable(ssl, session, *static_cast<const PeerRules*>(arg))) return SSL_TICKET_RETURN_IGNORE_RENEW;
    // Keep the key callback's verdict on renewal (TLS 1.3 resumptions always get a fresh ticket).
    return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

}  // namespace

void install_peer_verifier(SSL_CTX* ctx, const PeerRules* rules) {
    detail::install_rules(ctx, rules);
    SSL_CTX_set_session_id_context(ctx, rules->session_context.data(),
                                   static_cast<unsigned int>(rules->session_context.size()));
    SSL_CTX_set_cert_verify_callback(ctx, verify_peer, const_cast<PeerRules*>(rules));
    SSL_CTX_set_session_ticket_cb(ctx, nullptr, check_ticket, const_cast<PeerRules*>(rules));
}

}  // namespace ward::tls
