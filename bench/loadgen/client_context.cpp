// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/client_context.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "bench/loadgen/openssl_error.hpp"

namespace ward::loadgen {

namespace {

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto end = std::min(list.find(':', start), list.size());
        if (end > start) out.push_back(list.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ":") + n;
    return out;
}

std::string openssl_name() { return std::string("OpenSSL ") + OpenSSL_version(OPENSSL_VERSION_STRING); }

int version_number(TlsVersion v) { return v == TlsVersion::v1_2 ? TLS1_2_VERSION : TLS1_3_VERSION; }

// Applies --cipher: TLS_* names to the TLS 1.3 suites, the rest to the TLS 1.2 list, each
// checked alone so an unknown one is named instead of dropped. Naming one kind only restricts
// the protocol version to it (a TLS 1.2 cipher cannot be negotiated in TLS 1.3, and the other
// way round), and contradicting --tls is an error.
void apply_ciphers(SSL_CTX* ctx, const Options& o, std::optional<TlsVersion>& version,
                   std::vector<std::string>& errors) {
    std::vector<std::string> suites13, ciphers12;
    for (auto& name : split(o.cipher)) (name.starts_with("TLS_") ? suites13 : ciphers12).push_back(name);

    const std::size_t errors_before = errors.size();
    for (const auto& n : suites13) {
        if (SSL_CTX_set_ciphersuites(ctx, n.c_str()) != 1)
            errors.push_back("--cipher: '" + n + "' is not a TLS 1.3 ciphersuite known to " + openssl_name());
        ERR_clear_error();
    }
    for (const auto& n : ciphers12) {
        if (SSL_CTX_set_cipher_list(ctx, n.c_str()) != 1)
            errors.push_back("--cipher: '" + n + "' is not a TLS 1.2 cipher known to " + openssl_name());
        ERR_clear_error();
    }
    if (errors.size() != errors_before) return;

    if (!suites13.empty()) SSL_CTX_set_ciphersuites(ctx, join(suites13).c_str());
    if (!ciphers12.empty()) SSL_CTX_set_cipher_list(ctx, join(ciphers12).c_str());
    if (ciphers12.empty() && !suites13.empty()) {
        if (version == TlsVersion::v1_2) errors.push_back("--cipher: only TLS 1.3 suites given, but --tls 1.2");
        version = TlsVersion::v1_3;
    } else if (suites13.empty() && !ciphers12.empty()) {
        if (version == TlsVersion::v1_3)
            errors.push_back("--cipher: only TLS 1.2 ciphers given (TLS 1.3 names start with TLS_), but --tls 1.3");
        version = TlsVersion::v1_2;
    }
}

void apply_groups(SSL_CTX* ctx, const std::string& groups, std::vector<std::string>& errors) {
    const std::size_t errors_before = errors.size();
    for (const auto& g : split(groups)) {
        if (SSL_CTX_set1_groups_list(ctx, g.c_str()) != 1)
            errors.push_back("--groups: '" + g + "' is not a group known to " + openssl_name());
        ERR_clear_error();
    }
    if (errors.size() == errors_before) SSL_CTX_set1_groups_list(ctx, groups.c_str());
}

std::atomic<std::uint64_t> hello_retries{0};

// RFC 8446 section 4.1.3: a HelloRetryRequest is a ServerHello with this random.
constexpr unsigned char kHelloRetryRandom[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

// Every handshake message received: type 2 (ServerHello), then 3 bytes of length and 2 of
// legacy version before the random.
void watch_messages(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void*) {
    if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len < 38) return;
    const auto* m = static_cast<const unsigned char*>(buf);
    if (m[0] == SSL3_MT_SERVER_HELLO && std::memcmp(m + 6, kHelloRetryRandom, sizeof kHelloRetryRandom) == 0)
        hello_retries.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::uint64_t ClientContext::hello_retry_requests() { return hello_retries.load(std::memory_order_relaxed); }

std::unique_ptr<ClientContext> ClientContext::create(const Options& o, std::vector<std::string>& errors) {
    std::unique_ptr<ClientContext> self(new ClientContext());
    self->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!self->ctx_) {
        errors.push_back(openssl_error("creating the TLS client context", "out of memory", true));
        return nullptr;
    }
    SSL_CTX* ctx = self->ctx_.get();
    const std::size_t errors_before = errors.size();

    SSL_CTX_set_msg_callback(ctx, watch_messages);
    std::optional<TlsVersion> version = o.tls;
    if (!o.cipher.empty()) apply_ciphers(ctx, o, version, errors);
    if (!o.groups.empty()) apply_groups(ctx, o.groups, errors);
    SSL_CTX_set_min_proto_version(ctx, version ? version_number(*version) : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, version ? version_number(*version) : TLS1_3_VERSION);

    const bool name_is_ip = is_ip_literal(o.target.host);
    self->sni_ = !o.sni.empty() ? o.sni : (name_is_ip ? std::string() : o.target.host);

    if (o.verify) {
        if (SSL_CTX_load_verify_locations(ctx, o.ca.c_str(), nullptr) != 1)
            errors.push_back(openssl_error("--ca: cannot load '" + o.ca + "'", "no certificate in it", true));
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!o.sni.empty() || !name_is_ip)
            X509_VERIFY_PARAM_set1_host(param, self->sni_.c_str(), self->sni_.size());
        else
            X509_VERIFY_PARAM_set1_ip_asc(param, o.target.host.c_str());
    } else {
        // Without --verify, not even build the chain: with SSL_VERIFY_NONE OpenSSL would still
        // run X509_verify_cert (a signature check for a self-signed certificate) on every
        // handshake and then ignore the result. The handshake signature is checked regardless.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_cert_verify_callback(ctx, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
    }

    if (!o.cert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o.cert.c_str()) != 1)
            errors.push_back(openssl_error("--cert: cannot load '" + o.cert + "'", "no certificate in it", true));
        else if (SSL_CTX_use_PrivateKey_file(ctx, o.key.c_str(), SSL_FILETYPE_PEM) != 1)
            errors.push_back(openssl_error("--key: cannot load '" + o.key + "'", "no key in it", true));
        else if (SSL_CTX_check_private_key(ctx) != 1)
            errors.push_back(openssl_error("--key: '" + o.key + "' does not match '" + o.cert + "'", "mismatch", true));
    }

    self->resume_ = o.mode == Mode::resume;
    // Enough tickets for every connection in flight on this thread, and some to spare.
    self->pool_limit_ = 2 * (o.concurrency / o.threads + 1) + 8;
    if (self->resume_) {
        // Sessions go to on_new_session (which keeps the newest), not to an internal cache.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, &ClientContext::on_new_session);
        SSL_CTX_set_ex_data(ctx, 0, self.get());  // SSL_CTX_set_app_data, without the C cast
    } else {
        // Every handshake full: no tickets asked for, no session kept.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    // Idle connections hold no record buffers between reads (as ward does).
    if (o.mode == Mode::idle) SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

    ERR_clear_error();
    if (errors.size() != errors_before) return nullptr;
    return self;
}

int ClientContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<ClientContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0));
    if (!self || !SSL_SESSION_is_resumable(session)) return 0;
    self->pool_.emplace_back(session);  // we keep the reference OpenSSL hands us
    if (self->pool_.size() > self->pool_limit_) self->pool_.pop_front();  // the oldest goes
    ++self->sessions_received_;
    return 1;
}

UniqueSession ClientContext::take_session() {
    while (!pool_.empty()) {
        SSL_SESSION* s = pool_.back().get();
        if (!SSL_SESSION_is_resumable(s)) {  // used up, or replaced by a newer ticket
            pool_.pop_back();
            continue;
        }
        if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
            UniqueSession taken = std::move(pool_.back());
            pool_.pop_back();
            return taken;
        }
        SSL_SESSION_up_ref(s);
        return UniqueSession(s);
    }
    return nullptr;
}

UniqueSsl ClientContext::new_ssl(bool full) {
    UniqueSsl ssl(SSL_new(ctx_.get()));
    if (!ssl) return ssl;
    if (!sni_.empty())  // SSL_set_tlsext_host_name, without the macro's C cast
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(sni_.c_str()));
    if (resume_ && !full) {
        if (const UniqueSession session = take_session())
            SSL_set_session(ssl.get(), session.get());
        else
            ++pool_empty_;
    }
    SSL_set_connect_state(ssl.get());
    return ssl;
}

}  // namespace ward::loadgen
