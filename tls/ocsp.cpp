// SPDX-License-Identifier: Apache-2.0
#include "tls/ocsp.hpp"

#include <openssl/x509v3.h>

#include <charconv>

namespace ward::tls {

namespace {

bool valid_host(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    for (char c : h)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    return true;
}

}  // namespace

std::string ocsp_responder(X509* cert) {
    std::string out;
    STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(cert);
    if (urls && sk_OPENSSL_STRING_num(urls) > 0) out = sk_OPENSSL_STRING_value(urls, 0);
    X509_email_free(urls);
    return out;
}

std::string HttpUrl::text() const { return "http://" + host + ":" + std::to_string(port) + path; }

std::optional<HttpUrl> parse_http_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (url.size() < scheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if ((url[i] | 0x20) != scheme[i] && url[i] != scheme[i]) return std::nullopt;
    url.remove_prefix(scheme.size());
    HttpUrl out;
    const auto slash = url.find('/');
    auto authority = url.substr(0, slash);
    if (slash != std::string_view::npos) out.path = std::string(url.substr(slash));
    for (char c : out.path)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') return std::nullopt;
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no user info
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        const auto digits = authority.substr(colon + 1);
        unsigned port = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535)
            return std::nullopt;
        out.port = static_cast<std::uint16_t>(port);
        authority = authority.substr(0, colon);
    }
    if (!valid_host(authority)) return std::nullopt;
    out.host = std::string(authority);
    return out;
}

std::string_view to_string(OcspStatus s) {
    switch (s) {
        case OcspStatus::good: return "good";
        case OcspStatus::revoked: return "revoked";
        case OcspStatus::unknown: return "unknown";
        case OcspStatus::invalid: break;
    }
    return "invalid";
}

std::optional<OcspCache::Entry> OcspCache::find(const std::string& key, std::int64_t now) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.until <= now) return std::nullopt;
    return it->second;
}

void OcspCache::put(const std::string& key, Entry entry, std::int64_t now) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= capacity_ && !entries_.contains(key)) {
        std::erase_if(entries_, [now](const auto& kv) { return kv.second.until <= now; });
        if (entries_.size() >= capacity_) {
            auto first = entries_.begin();
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (it->second.until < first->second.until) first = it;
            entries_.erase(first);
        }
    }
    entries_[key] = std::move(entry);
}

std::size_t OcspCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace ward::tls
