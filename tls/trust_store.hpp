// SPDX-License-Identifier: Apache-2.0
#pragma once
// A trust store: a folder of PEM files holding CA certificates, self-signed peer certificates
// (accepted as anchors: partial chains are allowed) and CRLs.
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
    std::vector<std::string> problems;  // one message per file that holds neither
};

// Reads every regular file in `dir` (sorted by name; hidden files skipped).
Result<TrustStoreContents> read_trust_store(const std::filesystem::path& dir);

// An X509_STORE holding the certificates and CRLs.
UniqueX509Store make_x509_store(const TrustStoreContents& contents);

}  // namespace ward::tls
