// SPDX-License-Identifier: Apache-2.0
#include "tls/x509.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls/openssl_error.hpp"

namespace ward::tls {
namespace {

namespace fs = std::filesystem;

// PEM files are small; the cap only stops a mistyped path (/dev/zero, a log) eating memory.
constexpr std::size_t kMaxPemFileSize = 16 * 1024 * 1024;

std::string display(const fs::path& path) { return path.string(); }

std::string errno_text(int err) { return std::generic_category().message(err); }

// Reads a whole (small) file. The buffer is sized from fstat up front so that key material is
// not left behind in reallocated-away copies; the caller cleanses it.
Status read_file(const fs::path& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{"cannot read " + display(path) + ": " + errno_text(errno)};
    auto fail = [&](const std::string& why) -> Status {
        ::close(fd);
        return Error{"cannot read " + display(path) + ": " + why};
    };
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(errno_text(errno));
    if (S_ISDIR(st.st_mode)) return fail("is a directory");
    if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) > kMaxPemFileSize) return fail("file too large");
    out.assign(static_cast<std::size_t>(st.st_size) + 1, '\0');
    std::size_t used = 0;
    for (;;) {
        if (used == out.size()) {
            if (out.size() > kMaxPemFileSize) return fail("file too large");
            out.resize(out.size() * 2);
        }
        ssize_t n = ::read(fd, out.data() + used, out.size() - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno_text(errno));
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(used);
    return {};
}

class ScopedCleanse {
public:
    explicit ScopedCleanse(std::string& s) : s_(s) {}
    ~ScopedCleanse() { OPENSSL_cleanse(s_.data(), s_.size()); }
    ScopedCleanse(const ScopedCleanse&) = delete;
    ScopedCleanse& operator=(const ScopedCleanse&) = delete;

private:
    std::string& s_;
};

Result<UniqueBio> memory_bio(const std::string& data, const fs::path& path) {
    if (data.size() > INT_MAX) return Error{"cannot read " + display(path) + ": file too large"};
    UniqueBio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) return Error{openssl_error("cannot read " + display(path))};
    return bio;
}

// True (and the queue emptied) when the last PEM read failed only for want of another block.
bool pem_exhausted() {
    unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        clear_openssl_errors();
        return true;
    }
    return false;
}

// Keys are read unattended; the default callback would prompt on the terminal.
int refuse_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

// ---- PEM input --------------------------------------------------------------------------

Result<std::vector<UniqueX509>> read_certificates_pem(const fs::path& path) {
    std::string data;
    if (auto s = read_file(path, data); !s) return Error{s.error()};
    auto bio = memory_bio(data, path);
    if (!bio) return Error{bio.error()};
    std::vector<UniqueX509> certs;
    while (X509* cert = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
    if (!pem_exhausted()) return Error{openssl_error("cannot read certificate from " + display(path))};
    if (certs.empty()) return Error{"no PEM certificate found in " + display(path)};
    return certs;
}

Result<UniqueX509> read_certificate_pem(const fs::path& path) {
    auto certs = read_certificates_pem(path);
    if (!certs) return Error{certs.error()};
    return std::move(certs->front());
}

Result<UniquePkey> read_private_key_pem(const fs::path& path) {
    std::string data;
    ScopedCleanse cleanse(data);
    if (auto s = read_file(path, data); !s) return Error{s.error()};
    auto bio = memory_bio(data, path);
    if (!bio) return Error{bio.error()};
    UniquePkey key(PEM_read_bio_PrivateKey(bio->get(), nullptr, refuse_passphrase, nullptr));
    if (key) return key;
    if (data.find("ENCRYPTED") != std::string::npos) {
        clear_openssl_errors();
        return Error{"cannot read private key from " + display(path) + ": encrypted keys are not supported"};
    }
    // OpenSSL 3's decoder reports a missing key only as "unsupported"; say what happened.
    if (pem_exhausted() || data.find("PRIVATE KEY-----") == std::string::npos) {
        clear_openssl_errors();
        return Error{"no PEM private key found in " + display(path)};
    }
    return Error{openssl_error("cannot read private key from " + display(path))};
}

// ---- inspection -----------------------------------------------------------------------

std::vector<std::string> subject_common_names(X509* cert, std::size_t* unreadable) {
    std::vector<std::string> out;
    if (unreadable) *unreadable = 0;
    if (!cert) return out;
    X509_NAME* name = X509_get_subject_name(cert);
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0;) {
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (len < 0) {
            clear_openssl_errors();
            if (unreadable) ++*unreadable;
            continue;
        }
        out.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
        OPENSSL_free(utf8);
    }
    return out;
}

std::string subject_oneline(X509* cert) { return cert ? name_oneline(X509_get_subject_name(cert)) : std::string(); }

std::string issuer_oneline(X509* cert) { return cert ? name_oneline(X509_get_issuer_name(cert)) : std::string(); }

std::string name_oneline(X509_NAME* name) {
    if (!name) return {};
    // RFC 2253 escaping and order, but ", " separators and raw UTF-8 instead of \XX escapes.
    constexpr unsigned long kFlags =
        (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_SEP_MASK) | XN_FLAG_SEP_CPLUS_SPC;
    UniqueBio bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, kFlags) < 0) {
        clear_openssl_errors();
        return {};
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || !data) return {};
    return std::string(data, static_cast<std::size_t>(len));
}

std::string sha256_fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1) {
        clear_openssl_errors();
        return {};
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(len * 3);
    for (unsigned int i = 0; i < len; ++i) {
        if (i) out += ':';
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

}  // namespace ward::tls
