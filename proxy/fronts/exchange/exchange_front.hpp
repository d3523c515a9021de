// SPDX-License-Identifier: Apache-2.0
#pragma once
// The exchange-egress front: the seed's Exchange calendar integration under FIPS. A presence
// service on loopback sends plain HTTP/1.1; ward forwards each request over HTTPS to Exchange
// Web Services (the server verified by chain and name) on kept-alive connections from a pool,
// each authenticated once: NTLMv2 when Exchange offers NTLM and `exchange.auth` is auto (Basic
// when it offers none, or NTLMv2 fails), Basic with basic-only. NTLMv1 and LM never.
#include <memory>

#include "proxy/engine/front.hpp"

namespace ward::proxy {

std::shared_ptr<const Front> exchange_front();

}  // namespace ward::proxy
