// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/pki.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config/values.hpp"
#include "tls/openssl_error.hpp"

namespace ward::ops {

using namespace tls;  // the TLS module's handles, readers and policy, used throughout
namespace {

namespace fs = std::filesystem;

constexpr const char* kDevCaName = "ward development CA";
constexpr mode_t kCertMode = 0644;
constexpr mode_t kKeyMode = 0600;

std::string display(const fs::path& path) { return path.string(); }

std::string errno_text(int err) { return std::generic_category().message(err); }

// ---- files ----------------------------------------------------------------------------

// Writes via a temporary in the same directory and rename(), so the file is either the old
// or the new content. mkstemp creates 0600, so a key is never readable by others, even briefly.
Status write_file_atomically(const fs::path& path, const char* data, std::size_t size, mode_t mode) {
    if (!path.has_filename()) return Error{"cannot write " + display(path) + ": not a file name"};
    std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) return Error{"cannot write " + display(path) + ": " + errno_text(errno)};
    auto fail = [&](int err) -> Status {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return Error{"cannot write " + display(path) + ": " + errno_text(err)};
    };
    if (::fchmod(fd, mode) != 0) return fail(errno);
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno);
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail(errno);
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) return fail(errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
    return {};
}

Status write_bio_to_file(const fs::path& path, BIO* bio, mode_t mode) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len < 0 || (len > 0 && !data)) return Error{openssl_error("cannot write " + display(path))};
    return write_file_atomically(path, data, static_cast<std::size_t>(len), mode);
}

// ---- pki init / issue -----------------------------------------------------------------


// Same file on disk, or (for files not yet created) the same path once normalised.
bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::equivalent(a, b, ec)) return true;
    std::error_code ec_a, ec_b;
    const fs::path abs_a = fs::absolute(a, ec_a);
    const fs::path abs_b = fs::absolute(b, ec_b);
    return !ec_a && !ec_b && abs_a.lexically_normal() == abs_b.lexically_normal();
}

}  // namespace

// ---- PEM I/O --------------------------------------------------------------------------

Status write_certificate_pem(const fs::path& path, X509* cert, const std::vector<X509*>& chain) {
    if (!cert) return Error{"cannot write " + display(path) + ": no certificate"};
    UniqueBio bio(BIO_new(BIO_s_mem()));
    if (!bio) return Error{openssl_error("cannot write " + display(path))};
    if (PEM_write_bio_X509(bio.get(), cert) != 1) return Error{openssl_error("cannot write " + display(path))};
    for (X509* c : chain) {
        if (!c || PEM_write_bio_X509(bio.get(), c) != 1) return Error{openssl_error("cannot write " + display(path))};
    }
    return write_bio_to_file(path, bio.get(), kCertMode);
}

Status write_private_key_pem(const fs::path& path, EVP_PKEY* key) {
    if (!key) return Error{"cannot write " + display(path) + ": no key"};
    // Secure-memory BIO: its buffer is cleansed when freed.
    UniqueBio bio(BIO_new(BIO_s_secmem()));
    if (!bio) return Error{openssl_error("cannot write " + display(path))};
    if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return Error{openssl_error("cannot write " + display(path))};
    }
    return write_bio_to_file(path, bio.get(), kKeyMode);
}

Result<Credential> read_credential(const fs::path& cert_path, const fs::path& key_path) {
    auto cert = read_certificate_pem(cert_path);
    if (!cert) return Error{cert.error()};
    auto key = read_private_key_pem(key_path);
    if (!key) return Error{key.error()};
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
        return Error{openssl_error("private key " + display(key_path) + " does not match certificate " +
                                   display(cert_path))};
    }
    return Credential{std::move(*cert), std::move(*key)};
}

// ---- ward pki init / issue ------------------------------------------------------------

Result<std::vector<WrittenFile>> pki_init(const fs::path& dir, const PkiInitOptions& options) {
    if (!config::is_host_name(options.domain, /*allow_underscore=*/false)) return Error{"invalid domain \"" + options.domain + "\""};

    struct Node {
        const char* name;
        Credential credential;
    };
    std::vector<Node> nodes;
    nodes.push_back({"xmpp", {}});
    nodes.push_back({"sip", {}});
    nodes.push_back({"admin", {}});

    const fs::path ca_pem = dir / "ca.pem";
    const fs::path ca_key = dir / "ca.key";
    const fs::path trust_pem = dir / "trust" / "ca.pem";
    std::vector<fs::path> targets = {ca_pem, ca_key, trust_pem};
    for (const auto& node : nodes) {
        targets.push_back(dir / (std::string(node.name) + ".pem"));
        targets.push_back(dir / (std::string(node.name) + ".key"));
    }
    // All-or-nothing: check every target before generating or writing anything.
    if (!options.force) {
        for (const auto& t : targets) {
            std::error_code ec;
            if (fs::symlink_status(t, ec).type() != fs::file_type::not_found) {
                return Error{"refusing to overwrite existing " + display(t) + " (force to replace)"};
            }
        }
    }

    CertSpec ca_spec;
    ca_spec.common_names = {kDevCaName};
    ca_spec.is_ca = true;
    ca_spec.server_auth = false;
    ca_spec.client_auth = false;
    // A day beyond the node certificates, so no chain ever outlives its CA.
    ca_spec.not_after += std::chrono::hours(24);
    ca_spec.key = options.key;
    auto ca = issue_certificate(ca_spec, nullptr);
    if (!ca) return Error{ca.error()};

    for (auto& node : nodes) {
        CertSpec spec;
        const std::string host = std::string(node.name) + "." + options.domain;
        spec.common_names = {host};
        spec.dns_names = {host, "localhost"};
        spec.ip_addresses = {"127.0.0.1", "::1"};
        if (std::string_view(node.name) == "xmpp") {
            // RFC 6120 13.7.1.2: the service identity is the bare domain, as DNS-ID, XmppAddr
            // and SRV-IDs for both client and server connections.
            spec.dns_names.push_back(options.domain);
            spec.xmpp_addrs = {options.domain};
            spec.srv_names = {"_xmpp-client." + options.domain, "_xmpp-server." + options.domain};
        }
        spec.key = options.key;
        auto issued = issue_certificate(spec, &*ca);
        if (!issued) return Error{issued.error()};
        node.credential = std::move(*issued);
    }

    if (std::error_code ec; !fs::create_directories(dir / "trust", ec) && ec) {
        return Error{"cannot create directory " + display(dir / "trust") + ": " + ec.message()};
    }

    std::vector<WrittenFile> written;
    const std::string ca_subject = subject_oneline(ca->cert.get());
    if (auto s = write_private_key_pem(ca_key, ca->key.get()); !s) return Error{s.error()};
    if (auto s = write_certificate_pem(ca_pem, ca->cert.get()); !s) return Error{s.error()};
    written.push_back({ca_pem, "CA: " + ca_subject});
    written.push_back({ca_key, "CA private key"});
    for (const auto& node : nodes) {
        const fs::path pem = dir / (std::string(node.name) + ".pem");
        const fs::path key = dir / (std::string(node.name) + ".key");
        if (auto s = write_private_key_pem(key, node.credential.key.get()); !s) return Error{s.error()};
        if (auto s = write_certificate_pem(pem, node.credential.cert.get()); !s) return Error{s.error()};
        written.push_back({pem, "certificate: " + subject_oneline(node.credential.cert.get())});
        written.push_back({key, "private key"});
    }
    if (auto s = write_certificate_pem(trust_pem, ca->cert.get()); !s) return Error{s.error()};
    written.push_back({trust_pem, "trust store: " + ca_subject});
    return written;
}

Result<std::vector<WrittenFile>> pki_issue(const fs::path& ca_cert, const fs::path& ca_key, const CertSpec& spec,
                                           const fs::path& out_cert, const fs::path& out_key) {
    if (same_file(out_cert, out_key)) return Error{"certificate and key output are the same file " + display(out_key)};
    for (const auto& out : {out_cert, out_key}) {
        if (same_file(out, ca_cert) || same_file(out, ca_key)) {
            return Error{"refusing to overwrite the CA's own " + display(out)};
        }
    }
    auto ca = read_credential(ca_cert, ca_key);
    if (!ca) return Error{ca.error()};
    if (X509_check_ca(ca->cert.get()) == 0) return Error{display(ca_cert) + " is not a CA certificate"};

    auto issued = issue_certificate(spec, &*ca);
    if (!issued) return Error{issued.error()};
    if (auto s = write_private_key_pem(out_key, issued->key.get()); !s) return Error{s.error()};
    if (auto s = write_certificate_pem(out_cert, issued->cert.get()); !s) return Error{s.error()};
    return std::vector<WrittenFile>{
        {out_cert, "certificate: " + subject_oneline(issued->cert.get()) + " (issued by " +
                       subject_oneline(ca->cert.get()) + ")"},
        {out_key, "private key"},
    };
}

}  // namespace ward::ops
