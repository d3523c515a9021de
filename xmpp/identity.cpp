// SPDX-License-Identifier: Apache-2.0
#include "xmpp/identity.hpp"

#include <algorithm>
#include <string>

#include "tls/der.hpp"
#include "tls/x509.hpp"

namespace ward::xmpp {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// A fully qualified name's trailing dot is not part of the comparison (RFC 6125 section 6.4.1).
std::string_view strip_root(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

// A presented name, or "" when it holds a NUL byte (a forged name): it counts, and never matches.
std::string without_nul(std::string value) {
    if (value.find('\0') != std::string::npos) return {};
    return value;
}

}  // namespace

bool dns_id_matches(std::string_view pattern, std::string_view domain) {
    pattern = strip_root(pattern);
    domain = strip_root(domain);
    if (pattern.empty() || domain.empty()) return false;
    if (pattern.substr(0, 2) != "*.") return iequals(pattern, domain);
    const std::string_view rest = pattern.substr(2);
    // "*.com" would cover a whole top-level domain: at least two labels must follow.
    if (rest.find('.') == std::string_view::npos || rest.find('*') != std::string_view::npos) return false;
    const auto dot = domain.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return iequals(domain.substr(dot + 1), rest);
}

PresentedIdentifiers presented_identifiers(X509* cert) {
    PresentedIdentifiers out;
    if (cert == nullptr) return out;
    static const der::Bytes kXmppAddr = der::known_oid("1.3.6.1.5.5.7.8.5");  // id-on-xmppAddr
    static const der::Bytes kDnsSrv = der::known_oid("1.3.6.1.5.5.7.8.7");    // id-on-dnsSRV
    auto names = tls::subject_alt_names(cert);
    out.unreadable = names.unreadable;
    for (auto& dns : names.dns_names) out.dns_ids.push_back(without_nul(std::move(dns)));
    for (auto& uri : names.uris) out.uri_ids.push_back(without_nul(std::move(uri)));
    for (auto& other : names.other_names) {
        if (other.type_id == kXmppAddr) {
            if (other.value_tag == der::tag::utf8_string)
                out.xmpp_addrs.push_back(without_nul(std::move(other.value)));
            else
                out.unreadable = true;
        } else if (other.type_id == kDnsSrv) {
            if (other.value_tag == der::tag::ia5_string)
                out.srv_ids.push_back(without_nul(std::move(other.value)));
            else
                out.unreadable = true;
        }
    }
    // CNs that hold a NUL byte are kept as empty, so they count but never match; a CN that
    // cannot be read makes the certificate's names unreadable (it could be a second CN).
    std::size_t unreadable_cns = 0;
    for (auto& cn : tls::subject_common_names(cert, &unreadable_cns))
        out.common_names.push_back(cn.find('\0') == std::string::npos ? std::move(cn) : std::string());
    if (unreadable_cns > 0) out.unreadable = true;
    return out;
}

namespace {

// A DNS host name: labels of letters, digits and hyphens (not at either end), 1-63 bytes each,
// an optional trailing dot, at most 253 bytes.
bool host_name(std::string_view name) {
    name = strip_root(name);
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '.') {
            if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
            label = 0;
            continue;
        }
        const char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
        ++label;
    }
    return true;
}

}  // namespace

std::string check_server_identity(X509* cert, std::string_view domain) {
    if (cert == nullptr) return "no certificate";
    if (!host_name(domain)) return "'" + std::string(domain) + "' is not a domain name";
    const PresentedIdentifiers ids = presented_identifiers(cert);
    if (ids.unreadable) return "certificate's names cannot be read (subjectAltName or subject CN)";
    for (const auto& d : ids.dns_ids)
        if (dns_id_matches(d, domain)) return {};
    constexpr std::string_view kService = "_xmpp-server.";
    for (const auto& s : ids.srv_ids) {
        if (s.size() > kService.size() && iequals(std::string_view(s).substr(0, kService.size()), kService) &&
            iequals(strip_root(std::string_view(s).substr(kService.size())), strip_root(domain)))
            return {};
    }
    for (const auto& x : ids.xmpp_addrs)
        if (!x.empty() && iequals(x, domain)) return {};
    const bool has_san_ids =
        !ids.dns_ids.empty() || !ids.srv_ids.empty() || !ids.xmpp_addrs.empty() || !ids.uri_ids.empty();
    if (has_san_ids) return "certificate does not name '" + std::string(domain) + "' (DNS-ID, SRV-ID or XmppAddr)";
    if (ids.common_names.size() != 1) return "certificate has no identifier naming '" + std::string(domain) + "'";
    // A CN ending in a dot is not taken for a DNS name by name constraints (OpenSSL's cn2dnsid):
    // a constrained CA could issue one for any domain, so it names nothing here either.
    const std::string& cn = ids.common_names.front();
    if (!cn.empty() && cn.back() != '.' && iequals(cn, strip_root(domain))) return {};
    return "certificate CN does not name '" + std::string(domain) + "'";
}

}  // namespace ward::xmpp
