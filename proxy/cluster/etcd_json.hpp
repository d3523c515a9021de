// SPDX-License-Identifier: Apache-2.0
#pragma once
// etcd's v3 API as its JSON gateway speaks it (etcd 3.4: POST /v3/<service>/<method>, bytes
// fields in base64, 64-bit integers as decimal strings): the request bodies ward sends and the
// answers it reads. No I/O here. Every reader refuses what it does not understand with a reason
// (an answer from something that is not etcd must not be taken for an empty one).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/result.hpp"
#include "proxy/ops/secrets.hpp"

namespace ward::cluster {

struct EtcdKv {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t lease = 0;
};

struct EtcdRange {
    std::int64_t revision = 0;  // the store's revision the answer was read at
    std::vector<EtcdKv> kvs;
};

struct EtcdEvent {
    bool deleted = false;
    EtcdKv kv;  // for a deletion, the key (and the revision it was deleted at, as mod_revision)
};

// One message of a watch stream.
struct EtcdWatchMessage {
    std::int64_t revision = 0;
    bool created = false;
    bool canceled = false;
    std::int64_t compact_revision = 0;  // the start revision was compacted: read again, watch after
    std::string cancel_reason;
    std::vector<EtcdEvent> events;
};

struct EtcdTxnResult {
    std::int64_t revision = 0;
    bool succeeded = false;
    EtcdRange range;  // the failure branch's range, when it asked for one
};

// Standard base64 (with padding), as etcd's gateway writes bytes; unbase64 refuses what is not.
using ops::base64;
inline std::optional<std::string> unbase64(std::string_view text) { return ops::from_base64(text); }

// The first key after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(std::string_view prefix);

namespace etcd_body {
std::string lease_grant(std::int64_t ttl_seconds);
std::string lease_keep_alive(std::int64_t lease);
std::string lease_revoke(std::int64_t lease);
std::string lease_time_to_live(std::int64_t lease);
std::string put(std::string_view key, std::string_view value, std::int64_t lease);
std::string range(std::string_view key, bool prefix);
std::string delete_range(std::string_view key);
// Puts `key` when its mod_revision is `expected` (0: when the key does not exist); otherwise
// reads it.
std::string put_if_revision(std::string_view key, std::string_view value, std::int64_t lease, std::int64_t expected);
std::string watch_create(std::string_view prefix, std::int64_t start_revision);
}  // namespace etcd_body

namespace etcd_answer {
Result<std::int64_t> lease_grant(std::string_view json);       // the lease ID
Result<std::int64_t> lease_keep_alive(std::string_view json);  // the TTL left; 0: the lease is gone
Status lease_revoke(std::string_view json);
Result<std::int64_t> lease_time_to_live(std::string_view json);  // seconds left; 0: gone
Result<std::int64_t> put(std::string_view json);  // the revision
Result<EtcdRange> range(std::string_view json);
Result<std::int64_t> delete_range(std::string_view json);  // how many were deleted
Result<EtcdTxnResult> txn(std::string_view json);
Result<EtcdWatchMessage> watch(std::string_view json);
// An error answer's reason ({"error": ..., "code": n}), or "" when it is not one.
std::string error_of(std::string_view json);
}  // namespace etcd_answer

}  // namespace ward::cluster
