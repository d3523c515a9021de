// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the exchange-egress front prepares for a listener with each snapshot (Front::prepare):
// the credentials, read once, and whether NTLM can run here. And the channel-binding input.
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "proxy/exchange/http_auth.hpp"
#include "proxy/exchange/ntlm.hpp"

namespace ward::proxy {

struct ExchangeState {
    config::ExchangeAuth mode = config::ExchangeAuth::automatic;
    exchange::Credentials credentials;
    std::string domain;
    std::string workstation;
    const exchange::ntlm::LegacyCrypto* crypto = nullptr;  // nullptr: no NTLM here (auto uses Basic)
    ~ExchangeState();  // the password cleansed
};

// Reads the credentials file (an error at the listener's exchange.credentials_file otherwise)
// and, for auto, loads NTLM's library context (a warning when it cannot: auto uses Basic).
std::shared_ptr<const void> prepare_exchange_state(const config::Config& config, const config::Listener& listener,
                                                   const std::string& path, config::Diagnostics& diagnostics);

// RFC 5929 tls-server-end-point: the hash of the connection's server certificate with its
// signature's digest, SHA-256 when that is MD5 or SHA-1 (in the default library context: FIPS in
// fips mode). Empty when there is no certificate.
exchange::ntlm::Bytes server_end_point(SSL* ssl);

}  // namespace ward::proxy
