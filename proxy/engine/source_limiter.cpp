// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/source_limiter.hpp"

#include <algorithm>
#include <iterator>
#include <cstring>
#include <random>

namespace ward::proxy {

namespace {

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::size_t SourceLimiter::Hash::operator()(const SourceKey& k) const {
    // SipHash-2-4 (Aumasson and Bernstein) of the 16 bytes under the table's key.
    std::uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    std::uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    auto round = [&] {
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
    };
    auto absorb = [&](std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    };
    absorb(load64(k.bytes.data()));
    absorb(load64(k.bytes.data() + 8));
    absorb(std::uint64_t{16} << 56);  // the length, no tail
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) round();
    return static_cast<std::size_t>(v0 ^ v1 ^ v2 ^ v3);
}

SourceLimiter::SourceLimiter() {
    std::random_device random;
    hash_.k0 = (std::uint64_t{random()} << 32) ^ random();
    hash_.k1 = (std::uint64_t{random()} << 32) ^ random();
    for (auto& shard : shards_) shard = std::make_unique<Shard>(hash_);
}

void SourceLimiter::refill(Entry& e, std::uint32_t per_second, clock::time_point now) {
    const double burst = per_second;
    const std::chrono::duration<double> elapsed = now - e.refilled;
    e.tokens = std::min(burst, e.tokens + elapsed.count() * per_second);
    e.refilled = now;
}

SourceLimiter::Verdict SourceLimiter::admit(const SourceKey& source, std::uint32_t connections,
                                            std::uint32_t per_second, clock::time_point now) {
    if (connections == 0 && per_second == 0) return Verdict::untracked;
    auto& shard = shard_of(source);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(source);
    if (it == shard.entries.end()) {
        if (shard.entries.size() >= kMaxPerShard && now - shard.last_sweep >= std::chrono::seconds(1)) {
            shard.last_sweep = now;
            // Sweep what holds nothing and could burst again at once.
            for (auto e = shard.entries.begin(); e != shard.entries.end();) {
                bool idle = e->second.connections == 0;
                if (idle && per_second != 0) {
                    refill(e->second, per_second, now);
                    idle = e->second.tokens >= per_second;
                }
                e = idle ? shard.entries.erase(e) : std::next(e);
            }
        }
        if (shard.entries.size() >= kMaxPerShard) {
            untracked_.fetch_add(1, std::memory_order_relaxed);
            return Verdict::untracked;
        }
        Entry fresh;
        fresh.tokens = per_second;
        fresh.refilled = now;
        it = shard.entries.emplace(source, fresh).first;
    }
    auto& e = it->second;
    if (connections != 0 && e.connections >= connections) return Verdict::too_many_connections;
    if (per_second != 0) {
        refill(e, per_second, now);
        if (e.tokens < 1.0) return Verdict::too_fast;
        e.tokens -= 1.0;
    }
    ++e.connections;
    return Verdict::admitted;
}

void SourceLimiter::release(const SourceKey& source) {
    auto& shard = shard_of(source);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(source);
    // An entry that holds nothing stays for its bucket; the sweep removes it once the bucket
    // is full again.
    if (it != shard.entries.end() && it->second.connections > 0) --it->second.connections;
}

std::size_t SourceLimiter::tracked() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s->mutex);
        n += s->entries.size();
    }
    return n;
}

}  // namespace ward::proxy
