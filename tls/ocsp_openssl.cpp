// SPDX-License-Identifier: Apache-2.0
// OCSP on OpenSSL: requests, responses and their verification (RFC 6960), and the
// certificate's own OCSP facts.
#include "tls/ocsp.hpp"

#include <openssl/x509v3.h>

#include <ctime>

#include "tls/openssl_error.hpp"

namespace ward::tls {

namespace {

using UniqueOcspRequest = std::unique_ptr<OCSP_REQUEST, OpensslDeleter<OCSP_REQUEST_free>>;
using UniqueOcspResponse = std::unique_ptr<OCSP_RESPONSE, OpensslDeleter<OCSP_RESPONSE_free>>;
using UniqueOcspBasic = std::unique_ptr<OCSP_BASICRESP, OpensslDeleter<OCSP_BASICRESP_free>>;
using UniqueOcspCertId = std::unique_ptr<OCSP_CERTID, OpensslDeleter<OCSP_CERTID_free>>;

std::int64_t unix_time(const ASN1_GENERALIZEDTIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

bool must_staple(X509* cert) {
    const int at = X509_get_ext_by_NID(cert, NID_tlsfeature, -1);
    if (at < 0) return false;
    auto* features = static_cast<TLS_FEATURE*>(X509_get_ext_d2i(cert, NID_tlsfeature, nullptr, nullptr));
    if (!features) return true;  // unreadable: treat as demanding the strictest
    bool out = false;
    for (int i = 0; i < sk_ASN1_INTEGER_num(features); ++i)
        if (ASN1_INTEGER_get(sk_ASN1_INTEGER_value(features, i)) == 5) out = true;  // status_request
    sk_ASN1_INTEGER_pop_free(features, ASN1_INTEGER_free);
    return out;
}

struct OcspQuery::State {
    UniqueOcspRequest request;
    UniqueOcspCertId id;  // the request's copy is inside `request`; this one is for the lookup
    UniqueX509 issuer;
    UniqueX509 cert;
    bool nonce = false;
};

OcspQuery::OcspQuery(OcspQuery&&) noexcept = default;
OcspQuery& OcspQuery::operator=(OcspQuery&&) noexcept = default;
OcspQuery::~OcspQuery() = default;

std::optional<OcspQuery> OcspQuery::make(X509* cert, X509* issuer, bool with_nonce) {
    OcspQuery q;
    q.state_ = std::make_unique<State>();
    auto& s = *q.state_;
    s.request.reset(OCSP_REQUEST_new());
    // SHA-1 CertIDs are what responders index by (RFC 5019); the hash only names the issuer.
    UniqueOcspCertId id(OCSP_cert_to_id(nullptr, cert, issuer));
    if (id) s.id.reset(OCSP_CERTID_dup(id.get()));
    if (!s.request || !id || !s.id) {
        clear_openssl_errors();
        return std::nullopt;
    }
    if (!OCSP_request_add0_id(s.request.get(), id.get())) {
        clear_openssl_errors();
        return std::nullopt;
    }
    id.release();  // owned by the request now
    if (with_nonce && OCSP_request_add1_nonce(s.request.get(), nullptr, -1) == 1) s.nonce = true;
    X509_up_ref(issuer);
    s.issuer.reset(issuer);
    X509_up_ref(cert);
    s.cert.reset(cert);
    unsigned char* der = nullptr;
    const int n = i2d_OCSP_REQUEST(s.request.get(), &der);
    if (n <= 0) {
        clear_openssl_errors();
        return std::nullopt;
    }
    q.der_.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return q;
}

OcspResult OcspQuery::check(std::string_view response, std::int64_t now, std::int64_t max_age) const {
    OcspResult out;
    auto fail = [&](std::string why) {
        clear_openssl_errors();
        out.status = OcspStatus::invalid;
        out.why = std::move(why);
        return out;
    };
    const auto* p = reinterpret_cast<const unsigned char*>(response.data());
    UniqueOcspResponse resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
    if (!resp || p != reinterpret_cast<const unsigned char*>(response.data()) + response.size())
        return fail("not an OCSP response");
    if (const int st = OCSP_response_status(resp.get()); st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
        return fail(std::string("the responder answered ") + OCSP_response_status_str(st));
    UniqueOcspBasic basic(OCSP_response_get1_basic(resp.get()));
    if (!basic) return fail("no basic OCSP response");
    if (state_->nonce) {
        // 1: echoed; -1: the responder sends none (many do, to serve cached answers): the
        // times below bound its age. 0: a different nonce, a replay.
        if (OCSP_check_nonce(state_->request.get(), basic.get()) == 0) return fail("the response's nonce is not ours");
    }
    // The signer: the issuer itself, or a responder certificate the issuer signed for OCSP.
    UniqueX509Store store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), state_->issuer.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
    UniqueX509Stack issuer(sk_X509_new_null());
    X509_up_ref(state_->issuer.get());
    sk_X509_push(issuer.get(), state_->issuer.get());
    // OCSP_NOEXPLICIT: the issuer's trust settings in a PEM never make it a responder for others.
    if (OCSP_basic_verify(basic.get(), issuer.get(), store.get(), OCSP_NOEXPLICIT) <= 0)
        return fail(openssl_error("the response's signature does not verify against the issuer"));
    X509* signer = nullptr;
    if (OCSP_resp_get0_signer(basic.get(), &signer, issuer.get()) == 1 && signer &&
        X509_cmp(signer, state_->cert.get()) == 0)
        return fail("the response is signed by the certificate it is about");

    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
    if (OCSP_resp_find_status(basic.get(), state_->id.get(), &status, &reason, &revoked_at, &this_update,
                              &next_update) != 1)
        return fail("the response says nothing about this certificate");
    out.this_update = unix_time(this_update);
    out.next_update = next_update ? unix_time(next_update) : 0;
    constexpr std::int64_t leeway = 300;
    if (out.this_update == 0 || out.this_update > now + leeway) return fail("the response is dated in the future");
    if (out.next_update != 0 && out.next_update + leeway < now) return fail("the response is out of date");
    if (out.next_update != 0 && out.next_update < out.this_update) return fail("the response's times are inverted");
    if (out.next_update == 0 && out.this_update + max_age < now)
        return fail("the response gives no nextUpdate and is older than " + std::to_string(max_age) + "s");
    switch (status) {
        case V_OCSP_CERTSTATUS_GOOD: out.status = OcspStatus::good; break;
        case V_OCSP_CERTSTATUS_REVOKED:
            out.status = OcspStatus::revoked;
            out.why = std::string("revoked (") + OCSP_crl_reason_str(reason) + ")";
            break;
        default: out.status = OcspStatus::unknown; out.why = "the responder does not know the certificate";
    }
    clear_openssl_errors();
    return out;
}

}  // namespace ward::tls
