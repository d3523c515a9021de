// SPDX-License-Identifier: Apache-2.0
// The OCSP response checks (tls/ocsp.cpp): what a responder, or anyone on the plain-HTTP path to
// it, sends ward. The input is either a whole response (first byte even) or a list of byte edits
// (offset, xor) applied to a valid signed response made at start-up (first byte odd), so that the
// checks past the signature are reached too.
// Invariants: no crash, no out-of-bounds read (ASan), a refusal always says why, and a response
// the checks call good names a thisUpdate no later than five minutes from now.
#include <openssl/ocsp.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "proxy/ops/pki.hpp"
#include "tls/ocsp.hpp"

namespace {

struct State {
    ward::ops::Credential ca;
    ward::ops::Credential leaf;
    std::optional<ward::tls::OcspQuery> query;
    std::string good;  // a valid response to `query`
};

std::string signed_response(const State& s) {
    OCSP_BASICRESP* basic = OCSP_BASICRESP_new();
    OCSP_CERTID* id = OCSP_cert_to_id(nullptr, s.leaf.cert.get(), s.ca.cert.get());
    const std::time_t now = std::time(nullptr);
    ASN1_TIME* this_update = ASN1_TIME_adj(nullptr, now, 0, -60);
    ASN1_TIME* next_update = ASN1_TIME_adj(nullptr, now, 1, 0);
    OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr, this_update, next_update);
    OCSP_basic_sign(basic, s.ca.cert.get(), s.ca.key.get(), EVP_sha256(), nullptr, 0);
    OCSP_RESPONSE* response = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    unsigned char* der = nullptr;
    const int n = i2d_OCSP_RESPONSE(response, &der);
    std::string out(reinterpret_cast<const char*>(der), n > 0 ? static_cast<std::size_t>(n) : 0);
    OPENSSL_free(der);
    OCSP_RESPONSE_free(response);
    ASN1_TIME_free(next_update);
    ASN1_TIME_free(this_update);
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(basic);
    return out;
}

State* make_state() {
    auto* s = new State;
    ward::ops::CertSpec ca_spec;
    ca_spec.common_names = {"fuzz CA"};
    ca_spec.is_ca = true;
    auto ca = ward::ops::issue_certificate(ca_spec, nullptr);
    if (!ca) std::abort();
    ward::ops::CertSpec leaf_spec;
    leaf_spec.common_names = {"peer.fuzz"};
    auto leaf = ward::ops::issue_certificate(leaf_spec, &ca.value());
    if (!leaf) std::abort();
    s->ca = std::move(ca.value());
    s->leaf = std::move(leaf.value());
    s->query = ward::tls::OcspQuery::make(s->leaf.cert.get(), s->ca.cert.get(), false);
    if (!s->query) std::abort();
    s->good = signed_response(*s);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    if (s->query->check(s->good, now, 3600).status != ward::tls::OcspStatus::good) std::abort();
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const State* state = make_state();
    if (size == 0) return 0;
    std::string response;
    if (data[0] & 1) {
        response = state->good;
        for (std::size_t i = 1; i + 2 < size; i += 3) {
            const std::size_t at = ((static_cast<std::size_t>(data[i]) << 8) | data[i + 1]) % response.size();
            response[at] = static_cast<char>(response[at] ^ data[i + 2]);
        }
    } else {
        response.assign(reinterpret_cast<const char*>(data + 1), size - 1);
    }
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto result = state->query->check(response, now, 3600);
    if (result.status == ward::tls::OcspStatus::invalid && result.why.empty()) std::abort();
    if (result.status == ward::tls::OcspStatus::good && result.this_update > now + 300) std::abort();
    return 0;
}
