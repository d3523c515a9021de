// SPDX-License-Identifier: Apache-2.0
#pragma once
// Plain TLS termination in front of any TCP backend (`tls`), and TLS originated to a backend
// for plaintext accepted on loopback (`tls-outbound`).
#include <memory>

#include "proxy/engine/front.hpp"

namespace ward::proxy {

std::shared_ptr<const Front> tls_front();

}  // namespace ward::proxy
