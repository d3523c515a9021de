// SPDX-License-Identifier: Apache-2.0
#pragma once
// A latency histogram with bounded memory, HdrHistogram's log-linear layout: values below 256
// are exact, above that each power of two is split into 128 buckets, so a value is known to
// within 1/128 (0.8 %) from 1 ns to centuries, in 7424 counters (58 KiB). Count, min, max and
// sum are exact. Recording is an index computation and an increment: no allocation, no sort.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ward::loadgen {

class Histogram {
public:
    Histogram();

    void record(std::uint64_t value);
    void merge(const Histogram& other);

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const;

    // The value at quantile q (0.99 for p99): the smallest value with at least q of the samples
    // at or below it, reported as its bucket's midpoint and clamped to [min, max]. q >= 1 is
    // the exact maximum. 0 for an empty histogram.
    std::uint64_t quantile(double q) const;

    // Bucket layout, public for tests.
    static std::size_t index_of(std::uint64_t value);
    static std::uint64_t lowest_of(std::size_t index);
    static std::uint64_t width_of(std::size_t index);
    static constexpr std::size_t kBuckets = 256 + 56 * 128;

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    long double sum_ = 0;
};

}  // namespace ward::loadgen
