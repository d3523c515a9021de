// SPDX-License-Identifier: Apache-2.0
#pragma once
// Per-source-address admission for one listener, shared by every worker: how many connections
// an address holds (limits.per_source.connections) and how fast it may open new ones
// (limits.per_source.handshakes_per_second, a token bucket holding one second's worth). The
// table is sharded (a mutex each) and bounded: addresses that hold nothing and have a full
// bucket are swept when a shard fills (at most once a second), and past the bound new
// addresses are admitted
// untracked and counted (fail open: the table never grows without limit, and the listener's
// own limits still hold).
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ward::proxy {

// An address as the table keys it: 16 bytes, IPv4 as IPv4-mapped IPv6, IPv6 by its /64
// (source_key in session.hpp).
struct SourceKey {
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const SourceKey&) const = default;
};

class SourceLimiter {
public:
    // admitted: release() when the connection ends; untracked: admitted without a place in the
    // table (limits off, or the table full), nothing to release.
    enum class Verdict { admitted, untracked, too_many_connections, too_fast };
    using clock = std::chrono::steady_clock;

    static constexpr std::size_t kShards = 16;
    static constexpr std::size_t kMaxPerShard = 16384;  // 262,144 addresses in all

    // A new connection from `source`: admitted (it then holds a place until release()),
    // untracked, or refused. `connections` or `per_second` 0: that limit is off.
    Verdict admit(const SourceKey& source, std::uint32_t connections, std::uint32_t per_second,
                  clock::time_point now = clock::now());
    // The end of a connection admit() said `admitted` to.
    void release(const SourceKey& source);

    SourceLimiter();

    std::size_t tracked() const;
    // The shard a key falls in: a keyed hash (SipHash-2-4, a random key per table), so that no
    // one can choose addresses that crowd one shard or one bucket.
    std::size_t shard_index(const SourceKey& k) const { return hash_(k) % kShards; }
    std::uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }

private:
    struct Entry {
        std::uint32_t connections = 0;
        double tokens = 0;
        clock::time_point refilled;
    };
    struct Hash {
        std::uint64_t k0 = 0, k1 = 0;
        std::size_t operator()(const SourceKey& k) const;
    };
    struct alignas(64) Shard {
        explicit Shard(const Hash& h) : entries(0, h) {}
        mutable std::mutex mutex;
        std::unordered_map<SourceKey, Entry, Hash> entries;
        // A sweep walks the whole shard: at most one a second, so that addresses that all hold
        // connections (nothing to sweep) do not make every accept walk it.
        clock::time_point last_sweep;
    };
    Shard& shard_of(const SourceKey& k) { return *shards_[shard_index(k)]; }
    static void refill(Entry& e, std::uint32_t per_second, clock::time_point now);

    Hash hash_;
    std::array<std::unique_ptr<Shard>, kShards> shards_;
    std::atomic<std::uint64_t> untracked_{0};
};

}  // namespace ward::proxy
