// SPDX-License-Identifier: Apache-2.0
#include "tls/sni.hpp"

#include <openssl/x509v3.h>

#include <algorithm>

#include "tls/flavour.hpp"
#include "tls/tls_counters.hpp"
#include "tls/x509.hpp"

namespace ward::tls {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return out;
}

bool holds(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// A name as compared: lower case, without a trailing dot.
std::string normal(std::string_view server_name) {
    auto name = lower(server_name);
    if (!name.empty() && name.back() == '.') name.pop_back();
    return name;
}

// "*.example.com" for "a.example.com"; "" when the name has fewer than three labels (a wildcard
// stands for one label, never for a label next to a public suffix alone).
std::string wildcard_of(const std::string& name) {
    const auto dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || name.find('.', dot + 1) == std::string::npos) return {};
    return "*" + name.substr(dot);
}

}  // namespace

bool names_cover(const std::vector<std::string>& names, std::string_view server_name) {
    const auto name = normal(server_name);
    if (name.empty()) return false;
    if (holds(names, name)) return true;
    const auto wildcard = wildcard_of(name);
    return !wildcard.empty() && holds(names, wildcard);
}

std::vector<std::string> certificate_dns_names(X509* cert) {
    std::vector<std::string> out;
    UniqueGeneralNames sans(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans.get(), i);
            if (n->type != GEN_DNS) continue;
            const auto* s = n->d.dNSName;
            out.push_back(lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                 static_cast<std::size_t>(ASN1_STRING_length(s)))));
        }
    }
    if (out.empty())
        for (const auto& cn : subject_common_names(cert)) out.push_back(lower(cn));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string SniTable::add(X509* leaf, EVP_PKEY* key, STACK_OF(X509)* chain) {
    auto names = certificate_dns_names(leaf);
    for (const auto& g : groups_) {
        for (const auto& other : g.entries) {
            if (!flavour::kCertificatePerKeyType) {
                for (const auto& n : names)
                    if (holds(g.names, n))
                        return "'" + n + "' is already named by " + subject_oneline(other.leaf.get()) +
                               ": this ward is built with " + std::string(flavour::kName) +
                               ", which serves one certificate per name (not one per key type)";
                continue;
            }
            if (EVP_PKEY_get_base_id(other.key.get()) != EVP_PKEY_get_base_id(key)) continue;
            for (const auto& n : names)
                if (holds(g.names, n))
                    return "'" + n + "' is already named by " + subject_oneline(other.leaf.get()) +
                           ", which has the same key type: only one of them could ever be chosen for it";
        }
    }
    Entry e;
    X509_up_ref(leaf);
    e.leaf.reset(leaf);
    EVP_PKEY_up_ref(key);
    e.key.reset(key);
    e.chain.reset(sk_X509_new_null());
    for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
        X509* x = sk_X509_value(chain, i);
        X509_up_ref(x);
        sk_X509_push(e.chain.get(), x);
    }
    for (auto& g : groups_) {
        if (g.names == names) {
            g.entries.push_back(std::move(e));
            return {};
        }
    }
    groups_.push_back(Group{std::move(names), {}});
    groups_.back().entries.push_back(std::move(e));
    return {};
}

std::size_t SniTable::find(std::string_view server_name) const {
    const auto name = normal(server_name);
    if (name.empty()) return kNone;
    for (std::size_t i = 0; i < groups_.size(); ++i)
        if (holds(groups_[i].names, name)) return i;
    // "*.example.com" holds "a.example.com", not "example.com" nor "a.b.example.com".
    const auto wildcard = wildcard_of(name);
    if (wildcard.empty()) return kNone;
    for (std::size_t i = 0; i < groups_.size(); ++i)
        if (holds(groups_[i].names, wildcard)) return i;
    return kNone;
}

std::size_t SniTable::select(std::string_view server_name) const {
    const auto found = find(server_name);
    return found == kNone ? 0 : found;
}

bool SniTable::choose(SSL* ssl, std::string_view server_name) const {
    const auto found = find(server_name);
    if (found == kNone && counters_)
        counters_->count(server_name.empty() ? SniFallback::no_name : SniFallback::unknown_name);
    if (found == kNone || found == 0) return true;  // the context's own certificates
    // Only this group's certificates, so that no other name's certificate of another key type
    // can answer.
    return use_group(ssl, found);
}

}  // namespace ward::tls
