// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/exchange/exchange_state.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace ward::proxy {

namespace ntlm = exchange::ntlm;

ExchangeState::~ExchangeState() { OPENSSL_cleanse(credentials.password.data(), credentials.password.size()); }

std::shared_ptr<const void> prepare_exchange_state(const config::Config& config, const config::Listener& listener,
                                                   const std::string& path, config::Diagnostics& diagnostics) {
    if (!listener.exchange) return nullptr;  // refused by the loader's checks
    const auto& options = *listener.exchange;
    auto state = std::make_shared<ExchangeState>();
    state->mode = options.auth;
    state->domain = options.domain;
    state->workstation = options.workstation;
    const auto where = path + ".exchange.credentials_file";
    auto read = exchange::read_credentials(options.credentials_file.resolved);
    if (auto* why = std::get_if<std::string>(&read)) {
        diagnostics.error(config.mark(where), where, *why);
        return nullptr;
    }
    state->credentials = std::move(std::get<exchange::Credentials>(read));
    if (options.auth == config::ExchangeAuth::automatic) {
        state->crypto = ntlm::LegacyCrypto::get();
        if (!state->crypto) {
            const auto at = path + ".exchange.auth";
            diagnostics.warning(config.mark(at), at,
                                "auto will use Basic only: " + ntlm::LegacyCrypto::unavailable_reason() +
                                    " (NTLMv2 needs MD4 and HMAC-MD5)");
        }
    }
    return state;
}

ntlm::Bytes server_end_point(SSL* ssl) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert) return {};
    int md_nid = NID_undef;
    if (X509_get_signature_info(cert, &md_nid, nullptr, nullptr, nullptr) != 1 || md_nid == NID_md5 ||
        md_nid == NID_sha1 || md_nid == NID_undef)
        md_nid = NID_sha256;
    const EVP_MD* md = EVP_get_digestbynid(md_nid);
    ntlm::Bytes out(EVP_MAX_MD_SIZE);
    unsigned int n = 0;
    if (!md || X509_digest(cert, md, out.data(), &n) != 1) {
        ERR_clear_error();
        return {};
    }
    out.resize(n);
    return out;
}

}  // namespace ward::proxy
