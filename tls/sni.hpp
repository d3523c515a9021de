// SPDX-License-Identifier: Apache-2.0
#pragma once
// Several certificates in one context, chosen per connection (tls_contexts.NAME.certificates):
// the ClientHello's server name (RFC 6066) against each certificate's DNS names (its CN when it
// has none), exact first, then the left-most wildcard label (RFC 6125 section 6.4.3: "*" stands
// for exactly one label). Certificates naming the same set of names form a group; a group may
// hold one certificate per key type (ECDSA, RSA), and OpenSSL then picks by the signature
// algorithms the client offers. The first certificate's group serves clients without SNI or
// with a name no group holds. The choice is made in OpenSSL's ClientHello callback, before any
// certificate is selected.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "tls/openssl_ptr.hpp"

namespace ward::tls {

struct ContextCounters;  // tls/tls_counters.hpp

class SniTable {
public:
    // Adds a certificate (in configuration order); references are taken. Returns "" or, when a
    // certificate of the same key type already claims one of its names, a message naming it
    // (the second could never be chosen for that name).
    std::string add(X509* leaf, EVP_PKEY* key, STACK_OF(X509)* chain);
    // Where handshakes that fall back to the first group are counted (may stay unset).
    void count_into(ContextCounters* counters) { counters_ = counters; }
    // Installs the first group on `ctx` and the callback that switches to another; false when
    // OpenSSL refuses. The table must outlive `ctx` (the context owns both).
    bool install(SSL_CTX* ctx) const;
    // The group a server name selects: its index, or 0 (the first group) when none holds it.
    std::size_t select(std::string_view server_name) const;
    // Whether a group holds the name (exactly or by wildcard).
    bool covers(std::string_view server_name) const { return find(server_name) != kNone; }
    // A client-side connection presents a group's certificates instead of the first group's
    // (an s2s stream from a domain of that group). False when OpenSSL refuses.
    bool use_group(SSL* ssl, std::size_t group) const;
    // For the flavour's ClientHello callback: switches a server connection to the group its
    // server name selects ("" when it sent none), counting the fallbacks. False when the
    // library refuses the certificates.
    bool choose(SSL* ssl, std::string_view server_name) const;
    std::size_t groups() const { return groups_.size(); }
    // The names of a group (lower case), for messages.
    const std::vector<std::string>& names(std::size_t group) const { return groups_.at(group).names; }

private:
    struct Entry {
        UniqueX509 leaf;
        UniquePkey key;
        UniqueX509Stack chain;  // without the leaf
    };
    struct Group {
        std::vector<std::string> names;
        std::vector<Entry> entries;
    };
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t find(std::string_view server_name) const;
    std::vector<Group> groups_;
    ContextCounters* counters_ = nullptr;
};

// The DNS names a certificate holds (lower case), or its CN when it has none.
std::vector<std::string> certificate_dns_names(X509* cert);
// Whether `names` (as certificate_dns_names gives them) hold `name`, exactly or by one wildcard label.
bool names_cover(const std::vector<std::string>& names, std::string_view name);

}  // namespace ward::tls
