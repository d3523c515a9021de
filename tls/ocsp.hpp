// SPDX-License-Identifier: Apache-2.0
#pragma once
// OCSP (RFC 6960) without the network: where a certificate's responder is, a request for one
// certificate, and what a response says about it once its signature, its nonce and its times are
// checked. The fetching is the engine's (proxy/engine/ocsp_fetch.*); stapling and peer checks
// use what is here.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/ocsp.h>

#include "tls/openssl_ptr.hpp"

namespace ward::tls {

// An http:// URL: OCSP runs over plain HTTP (RFC 6960 appendix A; the response is signed).
struct HttpUrl {
    std::string host;
    std::uint16_t port = 80;
    std::string path = "/";
    std::string text() const;
};
std::optional<HttpUrl> parse_http_url(std::string_view url);

// The certificate's first OCSP responder (Authority Information Access), or "".
std::string ocsp_responder(X509* cert);
// The certificate carries the TLS feature extension with status_request (RFC 7633, "must-staple").
bool must_staple(X509* cert);

enum class OcspStatus { good, revoked, unknown, invalid };
std::string_view to_string(OcspStatus s);

struct OcspResult {
    OcspStatus status = OcspStatus::invalid;
    std::string why;               // for revoked and invalid, in words
    std::int64_t this_update = 0;  // Unix seconds
    std::int64_t next_update = 0;  // Unix seconds; 0 when the responder gives none
};

// A request about one certificate, and the checks on the response to it.
class OcspQuery {
public:
    // nullopt when OpenSSL cannot make the certificate's id (e.g. no issuer key).
    static std::optional<OcspQuery> make(X509* cert, X509* issuer, bool with_nonce);
    OcspQuery(OcspQuery&&) noexcept;
    OcspQuery& operator=(OcspQuery&&) noexcept;
    ~OcspQuery();

    const std::string& der() const { return der_; }
    // Checks a DER response: successful, signed by the issuer or a responder it delegated to
    // (id-kp-OCSPSigning; never the certificate asked about), the nonce echoed when the responder
    // echoes one, the times current (five minutes' leeway; a response without nextUpdate no
    // older than `max_age` seconds, so an old one cannot be replayed forever), and the status of
    // this certificate. `now`: Unix seconds.
    OcspResult check(std::string_view response, std::int64_t now, std::int64_t max_age) const;

private:
    OcspQuery() = default;
    struct State;
    std::unique_ptr<State> state_;
    std::string der_;
};

// What peers' OCSP checks learned, by certificate (SHA-256 of its DER), shared by the workers.
// Bounded: past `capacity` entries the expired ones go, then the one expiring first.
class OcspCache {
public:
    struct Entry {
        OcspStatus status = OcspStatus::invalid;  // invalid: no answer could be had (unavailable)
        std::string why;
        std::int64_t until = 0;  // Unix seconds
    };
    explicit OcspCache(std::size_t capacity = 10000) : capacity_(capacity) {}
    std::optional<Entry> find(const std::string& key, std::int64_t now) const;
    void put(const std::string& key, Entry entry, std::int64_t now);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::size_t capacity_;
};

}  // namespace ward::tls
