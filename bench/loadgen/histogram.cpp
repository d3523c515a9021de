// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ward::loadgen {

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::index_of(std::uint64_t value) {
    if (value < 256) return static_cast<std::size_t>(value);
    const int top = std::bit_width(value) - 1;  // 8..63
    const int shift = top - 7;
    const auto mantissa = static_cast<std::size_t>(value >> shift);  // 128..255
    return 256 + static_cast<std::size_t>(top - 8) * 128 + (mantissa - 128);
}

std::uint64_t Histogram::lowest_of(std::size_t index) {
    if (index < 256) return index;
    const std::size_t j = index - 256;
    const int top = static_cast<int>(j / 128) + 8;
    const std::uint64_t mantissa = j % 128 + 128;
    return mantissa << (top - 7);
}

std::uint64_t Histogram::width_of(std::size_t index) {
    if (index < 256) return 1;
    const int top = static_cast<int>((index - 256) / 128) + 8;
    return std::uint64_t{1} << (top - 7);
}

void Histogram::record(std::uint64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    sum_ += static_cast<long double>(value);
}

void Histogram::merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

double Histogram::mean() const {
    return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::uint64_t Histogram::quantile(double q) const {
    if (count_ == 0) return 0;
    if (q >= 1.0) return max_;
    const auto wanted = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= wanted) return std::clamp(lowest_of(i) + width_of(i) / 2, min(), max_);
    }
    return max_;
}

}  // namespace ward::loadgen
