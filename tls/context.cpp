// SPDX-License-Identifier: Apache-2.0
// A built context at run time: new connection states (server and client side, the client's
// certificate chosen by the name ward speaks for) and the stapled OCSP responses handed to
// clients that ask for them.
#include "tls/context_builder.hpp"

#include <cstring>
#include <ctime>

#include "tls/openssl_error.hpp"
#include "tls/tls_counters.hpp"

namespace ward::tls {

UniqueSsl Context::new_server() const {
    UniqueSsl ssl(SSL_new(ctx_.get()));
    if (ssl) SSL_set_accept_state(ssl.get());
    return ssl;
}

void Staples::set(std::size_t i, std::shared_ptr<const std::string> der, std::int64_t valid_until) {
    std::lock_guard lock(mutex_);
    if (i < responses_.size()) responses_[i] = {std::move(der), valid_until};
}

std::shared_ptr<const std::string> Staples::get(std::size_t i, std::int64_t now) const {
    std::lock_guard lock(mutex_);
    if (i >= responses_.size() || responses_[i].valid_until <= now) return nullptr;
    return responses_[i].der;
}

// The server's status_request callback: the response for the certificate OpenSSL chose (after
// SNI and key type), when the stapler has one.
int Context::on_status_request(SSL* ssl, void* arg) {
    const auto* context = static_cast<const Context*>(arg);
    X509* chosen = SSL_get_certificate(ssl);
    if (!chosen || !context->staples_) return SSL_TLSEXT_ERR_NOACK;
    for (std::size_t i = 0; i < context->presented_.size(); ++i) {
        if (context->presented_[i].leaf.get() != chosen) continue;
        auto der = context->staples_->get(i, static_cast<std::int64_t>(std::time(nullptr)));
        if (!der || der->empty()) return SSL_TLSEXT_ERR_NOACK;
        auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der->size()));
        if (!copy) return SSL_TLSEXT_ERR_NOACK;
        std::memcpy(copy, der->data(), der->size());
        // (SSL_set_tlsext_status_ocsp_resp, without the macro's C cast; OpenSSL frees `copy`.)
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, static_cast<long>(der->size()), copy);
        context_counters(context->name_).count(StapleEvent::stapled);
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

UniqueSsl Context::new_client(const std::string& server_name, const std::string& local_name) const {
    UniqueSsl ssl(SSL_new(ctx_.get()));
    if (!ssl) return ssl;
    SSL_set_connect_state(ssl.get());
    if (sni_ && !local_name.empty() && sni_->covers(local_name) && !sni_->use_group(ssl.get(), sni_->select(local_name))) {
        clear_openssl_errors();
        return nullptr;
    }
    SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
    if (!server_name.empty())  // SSL_set_tlsext_host_name, without the macro's C cast
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(server_name.c_str()));
    return ssl;
}

}  // namespace ward::tls
