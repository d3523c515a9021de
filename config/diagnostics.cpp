// SPDX-License-Identifier: Apache-2.0
#include "config/diagnostics.hpp"

#include <algorithm>
#include <cctype>

namespace ward::config {

void Diagnostics::error(Mark mark, std::string path, std::string message) {
    list_.push_back({Severity::error, file_, mark, std::move(path), std::move(message)});
    ++errors_;
}

void Diagnostics::warning(Mark mark, std::string path, std::string message) {
    list_.push_back({Severity::warning, file_, mark, std::move(path), std::move(message)});
}

void Diagnostics::note(Mark mark, std::string path, std::string message) {
    list_.push_back({Severity::note, file_, mark, std::move(path), std::move(message)});
}

std::string Diagnostics::to_string() const {
    std::string out;
    for (const auto& d : list_) {
        out += format(d);
        out += '\n';
    }
    return out;
}

std::string format(const Diagnostic& d) {
    std::string out = d.file;
    if (d.mark.line > 0) {
        out += ':' + std::to_string(d.mark.line) + ':' + std::to_string(d.mark.column);
    }
    switch (d.severity) {
        case Severity::error: out += ": error: "; break;
        case Severity::warning: out += ": warning: "; break;
        case Severity::note: out += ": note: "; break;
    }
    if (!d.path.empty()) out += d.path + ": ";
    out += d.message;
    return out;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                              std::tolower(static_cast<unsigned char>(b[j - 1]));
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
    std::string_view best;
    std::size_t best_distance = std::string_view::npos;
    for (auto c : candidates) {
        const auto d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    // A typo changes a few characters; more than a third of the word is another word.
    const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
    if (best.empty() || best_distance > limit) return {};
    return std::string(best);
}

}  // namespace ward::config
