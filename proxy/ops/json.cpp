// SPDX-License-Identifier: Apache-2.0
// Boost.JSON, header-only: its sources compiled once, here, for every library that uses it
// (the accounts file, the audit log, the admin API).
#include <boost/json/src.hpp>
