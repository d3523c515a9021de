// SPDX-License-Identifier: Apache-2.0
#pragma once
// A trust store: a folder of PEM files holding CA certificates, self-signed peer certificates
// (accepted as anchors: partial chains are allowed) and CRLs.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls {

struct TrustStoreContents {
    struct Entry {
        std::filesystem::path file;
        UniqueX509 cert;
    };
    std::vector<Entry> certificates;
    std::vector<UniqueX509Crl> crls;
    std::vector<std::filesystem::path> crl_files;  // the file each CRL came from
    // SHA-256 over the bytes of every file that held a CRL, in order (what a change of CRLs
    // changes, without re-encoding them).
    std::array<unsigned char, 32> crl_digest{};
    std::vector<std::string> problems;  // one message per file that holds neither
};

// Reads every regular file in `dir` (sorted by name; hidden files skipped; each at most
// kMaxTrustFile bytes).
inline constexpr std::size_t kMaxTrustFile = 64 * 1024 * 1024;
Result<TrustStoreContents> read_trust_store(const std::filesystem::path& dir);

// An X509_STORE holding the certificates and CRLs; an error (never a store missing one of them)
// when the library cannot take one: a lost CRL would let the peers it revokes in.
Result<UniqueX509Store> make_x509_store(const TrustStoreContents& contents);

}  // namespace ward::tls
