// SPDX-License-Identifier: Apache-2.0
#include "tls/trust_store.hpp"

#include <algorithm>
#include <fstream>
#include <system_error>
#include <utility>

#include <openssl/pem.h>

#include "tls/crypto.hpp"
#include "tls/library.hpp"
#include "tls/openssl_error.hpp"

namespace ward::tls {

namespace fs = std::filesystem;

namespace {

// The whole file, or why not ("" when read).
std::string read_file(const fs::path& file, std::string& out) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return "cannot open '" + file.string() + "'";
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec || size > kMaxTrustFile)
        return "'" + file.string() + "' is larger than " + std::to_string(kMaxTrustFile >> 20) + " MiB";
    out.resize(static_cast<std::size_t>(size));
    if (!in.read(out.data(), static_cast<std::streamsize>(out.size())) || in.peek() != std::char_traits<char>::eof())
        return "cannot read '" + file.string() + "' (it changed while being read)";
    return {};
}

// The PEM blocks of a file that hold a certificate or a CRL, as the file spells them.
std::size_t pem_blocks(std::string_view text) {
    std::size_t n = 0;
    for (const std::string_view label : {"-----BEGIN CERTIFICATE-----", "-----BEGIN TRUSTED CERTIFICATE-----",
                                         "-----BEGIN X509 CERTIFICATE-----", "-----BEGIN X509 CRL-----"})
        for (auto at = text.find(label); at != std::string_view::npos; at = text.find(label, at + label.size())) ++n;
    return n;
}

}  // namespace

Result<TrustStoreContents> read_trust_store(const fs::path& dir) {
    TrustStoreContents out;
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) return Error{"cannot read trust store folder '" + dir.string() + "': " + ec.message()};
    std::sort(files.begin(), files.end());

    for (const auto& file : files) {
        // Read once, then parsed from memory: the bytes parsed are the bytes digested.
        std::string bytes;
        if (auto problem = read_file(file, bytes); !problem.empty()) {
            out.problems.push_back(std::move(problem));
            continue;
        }
        UniqueBio bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
        if (!bio) {
            out.problems.push_back(openssl_error("cannot read '" + file.string() + "'"));
            continue;
        }
        STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr);
        int found = 0;
        bool crl_here = false;
        for (int i = 0; infos && i < sk_X509_INFO_num(infos); ++i) {
            X509_INFO* info = sk_X509_INFO_value(infos, i);
            // Taken out of the info (which then frees neither), not shared with it.
            if (info->x509) {
                out.certificates.push_back({file, UniqueX509(std::exchange(info->x509, nullptr))});
                ++found;
            }
            if (info->crl) {
                out.crls.emplace_back(std::exchange(info->crl, nullptr));
                out.crl_files.push_back(file);
                crl_here = true;
                ++found;
            }
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
        // A certificate the library cannot parse (OpenSSL then reads nothing of the file; wolfSSL
        // skips it, e.g. for an unknown critical extension) is named, never dropped in silence.
        if (const auto blocks = pem_blocks(bytes); found < static_cast<int>(blocks))
            out.problems.push_back(openssl_error("'" + file.string() + "': " + std::to_string(blocks - found) + " of its " +
                                                 std::to_string(blocks) + " PEM certificates and CRLs cannot be read by " +
                                                 tls_library_name()));
        else if (found == 0)
            out.problems.push_back("'" + file.string() + "' holds no PEM certificate or CRL");
        clear_openssl_errors();
        if (crl_here) {
            auto chained = crypto::hmac_sha256(out.crl_digest, {crypto::bytes(bytes)});
            if (!chained) return Error{"cannot digest the CRLs of '" + file.string() + "'"};
            out.crl_digest = *chained;
        }
    }
    return out;
}

Result<UniqueX509Store> make_x509_store(const TrustStoreContents& contents) {
    UniqueX509Store store(X509_STORE_new());
    if (!store) return Error{openssl_error("cannot make a certificate store")};
    // (A certificate listed twice is taken once, and is no error.)
    for (const auto& e : contents.certificates)
        if (X509_STORE_add_cert(store.get(), e.cert.get()) != 1)
            return Error{openssl_error("cannot add a certificate of '" + e.file.string() + "' to the certificate store")};
    for (std::size_t i = 0; i < contents.crls.size(); ++i)
        if (X509_STORE_add_crl(store.get(), contents.crls[i].get()) != 1)
            return Error{openssl_error("cannot add the CRL of '" + contents.crl_files[i].string() +
                                       "' to the certificate store")};
    clear_openssl_errors();
    return store;
}

}  // namespace ward::tls
