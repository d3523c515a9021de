// SPDX-License-Identifier: Apache-2.0
#include "tls/x509.hpp"

#include <cctype>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls/der.hpp"
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

std::string certificate_der(X509* cert) {
    const int size = cert ? i2d_X509(cert, nullptr) : 0;
    if (size <= 0) {
        clear_openssl_errors();
        return {};
    }
    std::string out(static_cast<std::size_t>(size), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    if (i2d_X509(cert, &p) != size) {
        clear_openssl_errors();
        return {};
    }
    return out;
}

SubjectAltNames subject_alt_names(X509* cert) {
    SubjectAltNames out;
    const std::string encoded = certificate_der(cert);
    const auto parts = der::read_certificate(encoded);
    if (!parts) {
        out.unreadable = !encoded.empty();
        return out;
    }
    static const der::Bytes kSan = der::known_oid("2.5.29.17");
    for (const auto& extension : parts->extensions) {
        if (extension.id != kSan) continue;
        if (out.present) {
            out.unreadable = true;  // RFC 5280 4.2: an extension appears once
            return out;
        }
        out.present = true;
        der::Reader outer(extension.value);
        auto names = outer.next_if(der::tag::sequence);
        if (!names || !outer.at_end()) {
            out.unreadable = true;
            continue;
        }
        der::Reader each(names->content);
        while (auto name = each.next()) {
            switch (name->tag) {
            case der::tag::context(2): out.dns_names.emplace_back(name->content); break;
            case der::tag::context(6): out.uris.emplace_back(name->content); break;
            case der::tag::context(7):
                if (name->content.size() == 4 || name->content.size() == 16) {
                    out.ip_addresses.emplace_back(name->content);
                } else {
                    out.unreadable = true;
                }
                break;
            case der::tag::context_constructed(0): {  // otherName: type-id, [0] EXPLICIT value
                der::Reader other(name->content);
                auto type_id = other.next_if(der::tag::oid);
                auto wrapper = other.next_if(der::tag::context_constructed(0));
                std::optional<der::Reader::Element> value;
                if (wrapper) {
                    der::Reader inner(wrapper->content);
                    value = inner.next();
                    if (!inner.at_end()) value.reset();
                }
                if (!type_id || !value || !other.at_end()) {
                    out.unreadable = true;
                    break;
                }
                out.other_names.push_back({std::string(type_id->whole), value->tag, std::string(value->content)});
                break;
            }
            // rfc822Name, x400Address, directoryName, ediPartyName, registeredID: ward matches
            // none of them.
            case der::tag::context(1):
            case der::tag::context_constructed(3):
            case der::tag::context_constructed(4):
            case der::tag::context_constructed(5):
            case der::tag::context(8):
                break;
            default:
                // Any other form (a dNSName in BER's constructed form, an unknown choice) is a name
                // ward cannot read: the names are unreadable rather than partly read, so the
                // subject CN is never consulted in their place.
                out.unreadable = true;
                break;
            }
        }
        if (!each.ok()) out.unreadable = true;
    }
    return out;
}

std::vector<std::string> subject_common_names(X509* cert, std::size_t* unreadable) {
    std::vector<std::string> out;
    std::size_t bad = 0;
    if (cert) {
        const std::string encoded = certificate_der(cert);
        const auto parts = der::read_certificate(encoded);
        static const der::Bytes kCommonName = der::known_oid("2.5.4.3");
        der::Reader outer(parts ? parts->subject : std::string_view());
        auto name = outer.next_if(der::tag::sequence);
        if (!name) {
            bad = 1;  // no subject ward can read: not "no CN"
        } else {
            // Every RDN a SET of attribute SEQUENCEs of exactly a type and a value: anything
            // else counts as unreadable, so no CN hides behind it.
            der::Reader rdns(name->content);
            while (!rdns.at_end()) {
                auto rdn = rdns.next_if(der::tag::set);
                if (!rdn) {
                    ++bad;
                    break;
                }
                der::Reader attributes(rdn->content);
                while (!attributes.at_end()) {
                    auto attribute = attributes.next_if(der::tag::sequence);
                    if (!attribute) {
                        ++bad;
                        break;
                    }
                    der::Reader fields(attribute->content);
                    auto type = fields.next_if(der::tag::oid);
                    auto value = fields.next();
                    if (!type || !value || !fields.at_end()) {
                        ++bad;
                        continue;
                    }
                    if (type->whole != kCommonName) continue;
                    auto text = der::string_as_utf8(value->tag, value->content);
                    if (!text) {
                        ++bad;
                        continue;
                    }
                    out.push_back(std::move(*text));
                }
            }
        }
    }
    if (unreadable) *unreadable = bad;
    return out;
}

bool names_ip_address(X509* cert, std::string_view address) {
    const std::string text(address);
    unsigned char octets[16];
    std::size_t size = 0;
    if (::inet_pton(AF_INET, text.c_str(), octets) == 1) {
        size = 4;
    } else if (::inet_pton(AF_INET6, text.c_str(), octets) == 1) {
        size = 16;
    } else {
        return false;
    }
    const auto names = subject_alt_names(cert);
    if (names.unreadable) return false;
    const std::string_view wanted(reinterpret_cast<const char*>(octets), size);
    for (const auto& ip : names.ip_addresses)
        if (ip == wanted) return true;
    return false;
}

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (std::tolower(x) != std::tolower(y)) return false;
    }
    return true;
}

bool dns_pattern_matches(std::string_view pattern, std::string_view host) {
    if (pattern.empty() || host.empty()) return false;
    if (pattern.find('\0') != std::string_view::npos) return false;
    if (equal_ignoring_case(pattern, host)) return true;
    // "*.example.org": the wildcard is the whole left-most label, over at least two labels.
    if (pattern.size() < 3 || pattern.substr(0, 2) != "*.") return false;
    const auto rest = pattern.substr(1);  // ".example.org"
    if (rest.find('*') != std::string_view::npos || rest.find('.', 1) == std::string_view::npos) return false;
    const auto dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return equal_ignoring_case(host.substr(dot), rest);
}

}  // namespace

bool names_dns_host(X509* cert, std::string_view host) {
    if (cert == nullptr || host.empty()) return false;
    const auto names = subject_alt_names(cert);
    if (names.unreadable) return false;
    if (!names.dns_names.empty()) {
        for (const auto& name : names.dns_names)
            if (dns_pattern_matches(name, host)) return true;
        return false;
    }
    // RFC 6125 6.4.4: no CN where the certificate presents a URI or an application's own
    // identifier either (stricter than OpenSSL, which looks at dNSName entries only).
    if (!names.uris.empty() || !names.other_names.empty()) return false;
    std::size_t unreadable = 0;
    const auto common_names = subject_common_names(cert, &unreadable);
    if (unreadable != 0) return false;
    for (const auto& cn : common_names)
        if (dns_pattern_matches(cn, host)) return true;
    return false;
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
