// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every front this build serves, registered for its listener protocols.
namespace ward::proxy {

// Registers them all (idempotent); call before building any snapshot.
void register_fronts();

}  // namespace ward::proxy
