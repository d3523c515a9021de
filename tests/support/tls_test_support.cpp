// SPDX-License-Identifier: Apache-2.0
#include "tests/support/tls_test_support.hpp"

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <random>
#include <utility>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/peer_verifier.hpp"
#include "tls/x509.hpp"

namespace ward::test {

// --- files -------------------------------------------------------------------------------------

TempDir::TempDir(std::string_view tag) {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    for (int attempt = 0; attempt < 16; ++attempt) {
        auto candidate = fs::temp_directory_path() /
                         ("ward-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter++) + "-" + std::to_string(random()));
        std::error_code ec;
        if (fs::create_directory(candidate, ec) && !ec) {
            path_ = std::move(candidate);
            return;
        }
    }
    FAIL("cannot create a temporary directory under " << fs::temp_directory_path().string());
}

TempDir::~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
}

void write_text_file(const fs::path& path, std::string_view text) {
    std::error_code ec;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    REQUIRE_MESSAGE(out.good(), "cannot write " << path.string());
}

std::string session_ticket(SSL* ssl) {
#if defined(WARD_TLS_WOLFSSL)
    return ward_session_ticket(ssl);
#else
    SSL_SESSION* session = SSL_get1_session(ssl);
    if (session == nullptr) return {};
    const unsigned char* ticket = nullptr;
    std::size_t length = 0;
    SSL_SESSION_get0_ticket(session, &ticket, &length);
    std::string out(reinterpret_cast<const char*>(ticket), ticket ? length : 0);
    SSL_SESSION_free(session);
    return out;
#endif
}

std::string drain_openssl_errors() {
    std::string out;
    const char* data = nullptr;
    int flags = 0;
    while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
        if ((flags & ERR_TXT_STRING) && data && *data) {
            out += " (";
            out += data;
            out += ")";
        }
    }
    return out;
}

// --- PKI ---------------------------------------------------------------------------------------

namespace {

ops::Credential issue_or_fail(const ops::CertSpec& spec, const ops::Credential* issuer) {
    auto issued = ops::issue_certificate(spec, issuer);
    REQUIRE_MESSAGE(issued.ok(), (issued.ok() ? std::string() : issued.error()));
    return std::move(issued.value());
}

CertFiles write_credential(const fs::path& dir, const std::string& name, const ops::Credential& credential) {
    CertFiles files{name, dir / (name + ".pem"), dir / (name + ".key")};
    auto cert = ops::write_certificate_pem(files.cert, credential.cert.get());
    REQUIRE_MESSAGE(cert.ok(), cert.error());
    auto key = ops::write_private_key_pem(files.key, credential.key.get());
    REQUIRE_MESSAGE(key.ok(), key.error());
    return files;
}

ops::CertSpec ca_spec(const std::string& cn) {
    ops::CertSpec spec;
    spec.common_names = {cn};
    spec.is_ca = true;
    spec.server_auth = false;
    spec.client_auth = false;
    return spec;
}

}  // namespace

TestPki::TestPki(const fs::path& dir) : dir_(dir) {
    fs::create_directories(trust_dir());
    ca_ = issue_or_fail(ca_spec("ward test CA"), nullptr);
    ca_files_ = write_credential(dir_, "ca", ca_);
    trust(ca_files_);

    untrusted_ca_ = issue_or_fail(ca_spec("untrusted test CA"), nullptr);
    untrusted_ca_files_ = write_credential(dir_, "untrusted-ca", untrusted_ca_);

    ops::CertSpec server;
    server.common_names = {"server.test"};
    server.dns_names = {"server.test"};
    server_files_ = issue("server", server);
}

ops::CertSpec TestPki::client_spec(const std::string& cn) {
    ops::CertSpec spec;
    spec.common_names = {cn};
    spec.server_auth = false;
    spec.client_auth = true;
    return spec;
}

const ops::Credential* TestPki::issuer_of(Signer signer) const {
    switch (signer) {
        case Signer::ca: return &ca_;
        case Signer::untrusted_ca: return &untrusted_ca_;
        case Signer::self: return nullptr;
    }
    return nullptr;
}

CertFiles TestPki::issue(const std::string& name, const ops::CertSpec& spec, Signer signer) {
    const auto credential = issue_or_fail(spec, issuer_of(signer));
    return write_credential(dir_, name, credential);
}

std::optional<CertFiles> TestPki::issue_if_readable(const std::string& name, const ops::CertSpec& spec, Signer signer) {
    auto issued = ops::issue_certificate(spec, issuer_of(signer));
    if (!issued.ok()) {
        MESSAGE("the TLS library does not read this certificate: " << issued.error());
        return std::nullopt;
    }
    return write_credential(dir_, name, issued.value());
}

void TestPki::trust(const CertFiles& files) {
    std::error_code ec;
    fs::copy_file(files.cert, trust_dir() / (files.name + ".pem"), fs::copy_options::overwrite_existing, ec);
    REQUIRE_MESSAGE(!ec, "cannot copy " << files.cert.string() << " into the trust store: " << ec.message());
}

fs::path TestPki::write_ca_crl(const std::vector<long>& revoked_serials, long next_update_days) {
    ops::CrlSpec spec;
    spec.revoked_serials = revoked_serials;
    const auto day = std::chrono::hours(24);
    spec.next_update = next_update_days * day;
    // Out of date: issued a day before its nextUpdate; otherwise an hour ago.
    spec.this_update = (next_update_days < 0 ? (next_update_days - 1) * day : std::chrono::hours(0)) - std::chrono::hours(1);
    auto pem = ops::issue_crl(spec, ca_);
    REQUIRE_MESSAGE(pem.ok(), "cannot make a CRL: " << (pem.ok() ? "" : pem.error()));
    const fs::path path = trust_dir() / "ca-crl.pem";
    write_text_file(path, *pem);
    return path;
}

config::Mark mark_of(std::string_view text, std::string_view needle, int occurrence) {
    std::size_t pos = text.find(needle);
    for (int i = 0; i < occurrence && pos != std::string_view::npos; ++i) pos = text.find(needle, pos + 1);
    REQUIRE_MESSAGE(pos != std::string_view::npos, "'" << needle << "' is not in the text");
    config::Mark mark{1, 1};
    for (std::size_t i = 0; i < pos; ++i) {
        if (text[i] == '\n') {
            ++mark.line;
            mark.column = 1;
        } else {
            ++mark.column;
        }
    }
    return mark;
}

// --- configuration -----------------------------------------------------------------------------

const tls::Context& LoadedConfig::context(const std::string& name) const {
    const tls::Context* found = snapshot.find(name);
    REQUIRE_MESSAGE(found != nullptr, "no TLS context '" << name << "' was built");
    return *found;
}

LoadedConfig load_config(const fs::path& dir, std::string_view yaml, const std::string& file_name) {
    const fs::path file = dir / file_name;
    write_text_file(file, yaml);
    auto loaded = config::load_file(file);
    REQUIRE_MESSAGE(loaded.config.has_value(),
                    "the configuration does not load:\n" << loaded.diagnostics.to_string() << "---\n" << yaml);
    LoadedConfig out{file, std::move(*loaded.config), {}, std::move(loaded.diagnostics)};
    const bool active = tls::activate_security_mode(out.config, out.diagnostics);
    REQUIRE_MESSAGE(active, "the security mode does not activate:\n" << out.diagnostics.to_string());
    auto snapshot = tls::build_tls_snapshot(out.config, out.diagnostics);
    REQUIRE_MESSAGE(snapshot.has_value(), "the TLS contexts do not build:\n" << out.diagnostics.to_string());
    REQUIRE_MESSAGE(!out.diagnostics.has_errors(), out.diagnostics.to_string());
    out.snapshot = std::move(*snapshot);
    CHECK(ERR_peek_error() == 0);
    ERR_clear_error();
    return out;
}

std::vector<std::string> ConfigCheck::formatted(const std::string& path, config::Severity severity) const {
    std::vector<std::string> out;
    for (const auto& d : diagnostics.all())
        if (d.path == path && d.severity == severity) out.push_back(config::format(d));
    return out;
}

ConfigCheck check_config(const fs::path& dir, std::string_view yaml, const std::string& file_name) {
    ConfigCheck out;
    out.file = dir / file_name;
    write_text_file(out.file, yaml);
    auto loaded = config::load_file(out.file);
    out.diagnostics = std::move(loaded.diagnostics);
    out.loaded = loaded.config.has_value();
    // As `ward check` does: TLS checks run on what could be read, errors or not.
    if (loaded.partial) {
        out.activated = tls::activate_security_mode(*loaded.partial, out.diagnostics);
        if (out.activated) {
            auto snapshot = tls::build_tls_snapshot(*loaded.partial, out.diagnostics);
            if (snapshot && out.loaded && !out.diagnostics.has_errors()) out.snapshot = std::move(snapshot);
        }
    }
    CHECK(ERR_peek_error() == 0);
    ERR_clear_error();
    return out;
}

// --- the other side ----------------------------------------------------------------------------

namespace {

tls::UniqueSslCtx make_plain_ctx(const PeerOptions& o, bool server) {
    ERR_clear_error();
    tls::UniqueSslCtx ctx(SSL_CTX_new_ex(o.libctx, nullptr, server ? TLS_server_method() : TLS_client_method()));
    REQUIRE_MESSAGE(ctx, "SSL_CTX_new_ex: " << drain_openssl_errors());
    SSL_CTX* c = ctx.get();
    // Before the certificate: OpenSSL checks the key against the security level on loading.
    if (o.security_level >= 0) SSL_CTX_set_security_level(c, o.security_level);
    if (o.min_version != 0)
        REQUIRE_MESSAGE(SSL_CTX_set_min_proto_version(c, o.min_version) == 1, drain_openssl_errors());
    if (o.max_version != 0)
        REQUIRE_MESSAGE(SSL_CTX_set_max_proto_version(c, o.max_version) == 1, drain_openssl_errors());
    if (o.cipher_list)
        REQUIRE_MESSAGE(SSL_CTX_set_cipher_list(c, o.cipher_list->c_str()) == 1,
                        "cipher list '" << *o.cipher_list << "': " << drain_openssl_errors());
    if (o.ciphersuites)
        REQUIRE_MESSAGE(SSL_CTX_set_ciphersuites(c, o.ciphersuites->c_str()) == 1,
                        "ciphersuites '" << *o.ciphersuites << "': " << drain_openssl_errors());
    if (o.groups)
        REQUIRE_MESSAGE(SSL_CTX_set1_groups_list(c, o.groups->c_str()) == 1,
                        "groups '" << *o.groups << "': " << drain_openssl_errors());
    if (o.sigalgs)
        REQUIRE_MESSAGE(SSL_CTX_set1_sigalgs_list(c, o.sigalgs->c_str()) == 1,
                        "sigalgs '" << *o.sigalgs << "': " << drain_openssl_errors());
    if (!o.cert.empty()) {
        REQUIRE_MESSAGE(SSL_CTX_use_certificate_chain_file(c, o.cert.c_str()) == 1,
                        o.cert.string() << ": " << drain_openssl_errors());
        REQUIRE_MESSAGE(SSL_CTX_use_PrivateKey_file(c, o.key.c_str(), SSL_FILETYPE_PEM) == 1,
                        o.key.string() << ": " << drain_openssl_errors());
        REQUIRE_MESSAGE(SSL_CTX_check_private_key(c) == 1, drain_openssl_errors());
    }
    if (!o.trust_ca.empty()) {
        REQUIRE_MESSAGE(SSL_CTX_load_verify_file(c, o.trust_ca.c_str()) == 1,
                        o.trust_ca.string() << ": " << drain_openssl_errors());
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    } else {
        // Said outright: OpenSSL verifies nothing by default, wolfSSL's client verifies the server.
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }
    REQUIRE_MESSAGE(ERR_peek_error() == 0, drain_openssl_errors());
    return ctx;
}

}  // namespace

tls::UniqueSslCtx make_peer_ctx(const PeerOptions& options) { return make_plain_ctx(options, false); }

tls::UniqueSslCtx make_peer_server_ctx(const PeerOptions& options) {
    REQUIRE_MESSAGE(!options.cert.empty(), "a server needs a certificate");
    return make_plain_ctx(options, true);
}

tls::UniqueSsl make_peer_server(SSL_CTX* ctx) {
    tls::UniqueSsl ssl(SSL_new(ctx));
    REQUIRE_MESSAGE(ssl, "SSL_new: " << drain_openssl_errors());
    SSL_set_accept_state(ssl.get());
    return ssl;
}

tls::UniqueSsl make_peer_client(SSL_CTX* ctx, const std::string& verify_host) {
    tls::UniqueSsl ssl(SSL_new(ctx));
    REQUIRE_MESSAGE(ssl, "SSL_new: " << drain_openssl_errors());
    SSL_set_connect_state(ssl.get());
#if defined(WARD_TLS_WOLFSSL)
    // wolfSSL's client asks for a TLS 1.2 session ticket only when told to (OpenSSL's always does).
    REQUIRE(wolfSSL_UseSessionTicket(ssl.get()) == WOLFSSL_SUCCESS);
#endif
    if (!verify_host.empty()) {
        // SNI (SSL_set_tlsext_host_name, without the macro's C cast), and the name the server
        // certificate must hold when the context verifies it.
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(verify_host.c_str()));
        if (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) REQUIRE(SSL_set1_host(ssl.get(), verify_host.c_str()) == 1);
    }
    REQUIRE_MESSAGE(ERR_peek_error() == 0, drain_openssl_errors());
    return ssl;
}

// --- the handshake -----------------------------------------------------------------------------

namespace {

struct AlertLog {
    std::vector<std::string> received;
    std::vector<std::string> sent;
    std::string first_fatal_received;
};

int alert_log_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// An alert's description as OpenSSL 3.0's SSL_alert_desc_string_long spells it (the tests
// compare these), for the alerts TLS 1.3 added too, in both flavours: wolfSSL spells them its
// own way ("bad_certificate").
std::string alert_description(int value) {
    switch (value & 0xff) {
        case 0: return "close notify";
        case 10: return "unexpected_message";
        case 20: return "bad record mac";
        case 21: return "decryption failed";
        case 22: return "record overflow";
        case 30: return "decompression failure";
        case 40: return "handshake failure";
        case 41: return "no certificate";
        case 42: return "bad certificate";
        case 43: return "unsupported certificate";
        case 44: return "certificate revoked";
        case 45: return "certificate expired";
        case 46: return "certificate unknown";
        case 47: return "illegal parameter";
        case 48: return "unknown CA";
        case 49: return "access denied";
        case 50: return "decode error";
        case 51: return "decrypt error";
        case 60: return "export restriction";
        case 70: return "protocol version";
        case 71: return "insufficient security";
        case 80: return "internal error";
        case 86: return "inappropriate fallback";
        case 90: return "user canceled";
        case 100: return "no renegotiation";
        case 109: return "missing extension";
        case 110: return "unsupported extension";
        case 111: return "certificate unobtainable";
        case 112: return "unrecognized name";
        case 113: return "bad certificate status response";
        case 114: return "bad certificate hash value";
        case 115: return "unknown PSK identity";
        case 116: return "certificate required";
        case 120: return "no application protocol";
        default: return "unknown";
    }
}

std::string alert_text(int level, int description) {
    return std::string(level == SSL3_AL_FATAL ? "fatal" : "warning") + ": " + alert_description(description);
}

void record_alert(const SSL* ssl, int where, int ret) {
    if (where & SSL_CB_ALERT) {
        if (auto* log = static_cast<AlertLog*>(SSL_get_ex_data(ssl, alert_log_index()))) {
#if defined(WARD_TLS_WOLFSSL)
            // wolfSSL reports only the alerts it sends, by description alone; the level of the
            // last one is read from its alert history when the exchange settles.
            log->sent.push_back(alert_text(ret == 0 || ret == 90 ? SSL3_AL_WARNING : SSL3_AL_FATAL, ret));
#else
            if (where & SSL_CB_READ) {
                log->received.push_back(alert_text(ret >> 8, ret));
                if (log->first_fatal_received.empty() && (ret >> 8) == SSL3_AL_FATAL)
                    log->first_fatal_received = alert_description(ret);
            } else {
                log->sent.push_back(alert_text(ret >> 8, ret));
            }
#endif
        }
    }
    // Whatever the context installed still runs.
    if (auto* callback = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl))) callback(ssl, where, ret);
}

#if defined(WARD_TLS_WOLFSSL)
// wolfSSL tells no callback of an alert it receives; it keeps the last one received and sent.
void complete_alert_log(SSL* ssl, AlertLog& log) {
    WOLFSSL_ALERT_HISTORY history{};
    if (wolfSSL_get_alert_history(ssl, &history) != WOLFSSL_SUCCESS) return;
    if (history.last_rx.level > 0) {
        log.received.push_back(alert_text(history.last_rx.level, history.last_rx.code));
        if (history.last_rx.level == SSL3_AL_FATAL) log.first_fatal_received = alert_description(history.last_rx.code);
    }
    if (history.last_tx.level > 0 && !log.sent.empty())
        log.sent.back() = alert_text(history.last_tx.level, history.last_tx.code);
}
#else
void complete_alert_log(SSL*, AlertLog&) {}
#endif

using InfoCallback = void (*)(const SSL*, int, int);

struct Side {
    enum class State { handshaking, established, failed };

    SSL* ssl = nullptr;
    State state = State::handshaking;
    bool handshake_returned = false;
    std::string errors;
    std::string unexpected_data;
    AlertLog alerts;
    InfoCallback previous_callback = nullptr;

    void note_errors(const std::string& what = {}) {
        std::string text = drain_openssl_errors();
        if (!what.empty()) text = text.empty() ? what : what + ": " + text;
        if (text.empty()) return;
        if (!errors.empty()) errors += "; ";
        errors += text;
    }

    static std::string error_name(int e) {
        switch (e) {
            case SSL_ERROR_SSL: return "SSL_ERROR_SSL";
            case SSL_ERROR_SYSCALL: return "SSL_ERROR_SYSCALL";
            case SSL_ERROR_ZERO_RETURN: return "SSL_ERROR_ZERO_RETURN (close_notify)";
            default: return "SSL error " + std::to_string(e);
        }
    }

    // One call into OpenSSL; whether the state changed.
    bool step() {
        if (state == State::failed) return false;
        if (state == State::handshaking) {
            const int r = SSL_do_handshake(ssl);
            if (r == 1) {
                note_errors();
                state = State::established;
                handshake_returned = true;
                return true;
            }
            const int e = SSL_get_error(ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                note_errors();
                return false;
            }
            note_errors("handshake: " + error_name(e));
            state = State::failed;
            return true;
        }
        // Established: read what the peer sent after its part of the handshake (TLS 1.3
        // session tickets, or the alert of a server that refused this client's certificate).
        char byte = 0;
        const int r = SSL_read(ssl, &byte, 1);
        if (r > 0) {
            unexpected_data += byte;
            return true;
        }
        const int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            note_errors();
            return false;
        }
        note_errors("after the handshake: " + error_name(e));
        state = State::failed;
        return true;
    }
};

// The bytes waiting to be read on each end of the pair. One call into a side can only take
// from what waits for it and add to what waits for the other, so a call that moved any byte
// changes this (both flavours have it; only OpenSSL counts a BIO's traffic).
std::pair<std::size_t, std::size_t> waiting(BIO* a, BIO* b) {
    return {BIO_ctrl_pending(a), BIO_ctrl_pending(b)};
}

// Sends `data` from one side and reads it on the other.
bool transfer(Side& from, Side& to, const std::string& data) {
    const int written = SSL_write(from.ssl, data.data(), static_cast<int>(data.size()));
    from.note_errors();
    if (written != static_cast<int>(data.size())) {
        from.note_errors("SSL_write failed");
        return false;
    }
    std::string got;
    for (int i = 0; i < 16 && got.size() < data.size(); ++i) {
        char buf[64];
        const int r = SSL_read(to.ssl, buf, sizeof buf);
        if (r > 0) {
            got.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        const int e = SSL_get_error(to.ssl, r);
        to.note_errors();
        if (e != SSL_ERROR_WANT_READ) {
            to.note_errors("SSL_read failed: " + Side::error_name(e));
            return false;
        }
    }
    return got == data;
}

// Counts the ServerHello messages a client receives (msg callback; `arg` is an int).
#if defined(WARD_TLS_WOLFSSL)
// wolfSSL reports the TLS 1.3 messages a client receives only in builds with its debugging
// callbacks; it reports what a server writes, each message as the whole record it went out in.
// So the server's side counts: ServerHello records (a HelloRetryRequest is one too).
void count_server_hello(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
    const auto* bytes = static_cast<const unsigned char*>(buf);
    if (!write_p || content_type != SSL3_RT_HANDSHAKE || len < 6 || bytes[0] != SSL3_RT_HANDSHAKE) return;
    if (bytes[5] == SSL3_MT_SERVER_HELLO) ++*static_cast<int*>(arg);
}
#else
void count_server_hello(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
    if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 1) return;
    if (static_cast<const unsigned char*>(buf)[0] == SSL3_MT_SERVER_HELLO) ++*static_cast<int*>(arg);
}
#endif

std::string join_lines(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out.empty() ? "none" : out;
}

}  // namespace

HandshakeResult handshake(SSL* server, SSL* client) {
    ERR_clear_error();
    HandshakeResult result;

    BIO* server_bio = nullptr;
    BIO* client_bio = nullptr;
    REQUIRE(BIO_new_bio_pair(&server_bio, 0, &client_bio, 0) == 1);
    SSL_set_bio(server, server_bio, server_bio);  // each SSL owns its half
    SSL_set_bio(client, client_bio, client_bio);

    Side s;
    Side c;
    s.ssl = server;
    c.ssl = client;
    for (Side* side : {&s, &c}) {
        side->previous_callback = SSL_get_info_callback(side->ssl);
        SSL_set_ex_data(side->ssl, alert_log_index(), &side->alerts);
        SSL_set_info_callback(side->ssl, record_alert);
    }
#if defined(WARD_TLS_WOLFSSL)
    SSL* const hello_counter = server;
#else
    SSL* const hello_counter = client;
#endif
    SSL_set_msg_callback(hello_counter, count_server_hello);
    SSL_set_msg_callback_arg(hello_counter, &result.server_hellos);

    // Each round gives both sides one call; stop when a round changes nothing (no state change,
    // no byte moved), which every finished, failed or stuck exchange reaches.
    bool settled = false;
    for (int round = 0; round < 200 && !settled; ++round) {
        const auto before = waiting(server_bio, client_bio);
        const bool client_changed = c.step();
        const auto between = waiting(server_bio, client_bio);
        const bool server_changed = s.step();
        settled = !client_changed && !server_changed && before == between && between == waiting(server_bio, client_bio);
    }
    if (!settled) {
        s.note_errors("the handshake pump did not settle");
        c.note_errors("the handshake pump did not settle");
    }

    result.server_ok = s.state == Side::State::established;
    result.client_ok = c.state == Side::State::established;
    result.client_handshake_returned = c.handshake_returned;
    if (result.server_ok && result.client_ok) {
        result.version = SSL_get_version(client);
        if (const char* cipher = SSL_get_cipher_name(client)) result.cipher = cipher;
        if (const char* group = SSL_group_to_name(client, SSL_get_negotiated_group(client))) result.group = group;
        if (X509* cert = SSL_get0_peer_certificate(client)) {
            result.server_subject = tls::subject_oneline(cert);
            result.server_key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) == EVP_PKEY_RSA ? "RSA" : "EC";
        }
        result.data_exchanged = transfer(s, c, "ward says hello") && transfer(c, s, "peer says hello");
    }
    result.peer_refusal_reason = tls::peer_refusal_reason(server);
    result.verified_peer_subject = tls::verified_peer_subject(server);
    for (Side* side : {&s, &c}) complete_alert_log(side->ssl, side->alerts);
    result.client_alerts_received = c.alerts.received;
    result.server_alerts_received = s.alerts.received;
    result.server_alerts_sent = s.alerts.sent;
    result.client_alert = c.alerts.first_fatal_received;
    result.server_alert = s.alerts.first_fatal_received;
    if (!c.unexpected_data.empty()) c.note_errors("unexpected application data: " + c.unexpected_data);
    if (!s.unexpected_data.empty()) s.note_errors("unexpected application data: " + s.unexpected_data);
    result.server_errors = s.errors;
    result.client_errors = c.errors;

    for (Side* side : {&s, &c}) {
        SSL_set_info_callback(side->ssl, side->previous_callback);
        SSL_set_ex_data(side->ssl, alert_log_index(), nullptr);
    }
    SSL_set_msg_callback(hello_counter, nullptr);
    SSL_set_msg_callback_arg(hello_counter, nullptr);
    ERR_clear_error();
    return result;
}

std::string HandshakeResult::describe() const {
    std::string out;
    out += "server_ok=" + std::string(server_ok ? "true" : "false");
    out += " client_ok=" + std::string(client_ok ? "true" : "false");
    out += " client_handshake_returned=" + std::string(client_handshake_returned ? "true" : "false");
    out += " data_exchanged=" + std::string(data_exchanged ? "true" : "false");
    out += "\n  version=" + version + " cipher=" + cipher;
    out += "\n  verified_peer_subject='" + verified_peer_subject + "'";
    out += "\n  peer_refusal_reason='" + peer_refusal_reason + "'";
    out += "\n  client alerts received: " + join_lines(client_alerts_received);
    out += "\n  server alerts received: " + join_lines(server_alerts_received);
    out += "\n  server alerts sent: " + join_lines(server_alerts_sent);
    out += "\n  server errors: " + (server_errors.empty() ? std::string("none") : server_errors);
    out += "\n  client errors: " + (client_errors.empty() ? std::string("none") : client_errors);
    return out;
}

std::string config_yaml(const std::string& context_settings, const std::vector<std::string>& subjects,
                        const std::string& security) {
    std::string yaml = "security:\n" + security +
                       "certificates:\n"
                       "  server: { cert: server.pem, key: server.key }\n"
                       "trust_stores:\n"
                       "  peers: { dir: trust }\n";
    if (!subjects.empty()) {
        yaml += "tls_peer_subjects:\n";
        for (const auto& s : subjects) yaml += "  - subject: " + s + "\n";
    }
    yaml += "tls_contexts:\n"
            "  peer:\n"
            "    certificate: server\n"
            "    trust_store: peers\n" +
            context_settings;
    return yaml;
}

PeerOptions client_options(const TestPki& pki, const CertFiles* cert) {
    PeerOptions o;
    o.trust_ca = pki.ca().cert;
    if (cert) {
        o.cert = cert->cert;
        o.key = cert->key;
    }
    return o;
}

HandshakeResult handshake_with(const tls::Context& context, const PeerOptions& options) {
    auto client_ctx = make_peer_ctx(options);
    auto server = context.new_server();
    REQUIRE(server);
    auto client = make_peer_client(client_ctx.get(), options.verify_host);
    auto result = handshake(server.get(), client.get());
    CHECK(ERR_peek_error() == 0);
    return result;
}

}  // namespace ward::test
