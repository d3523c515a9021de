// SPDX-License-Identifier: Apache-2.0
#pragma once
// Compiler-style configuration diagnostics: `file:line:col: error: dotted.path: message`.
// Every problem is collected; nothing stops at the first one.
#include <string>
#include <string_view>
#include <vector>

namespace ward::config {

// A position in the configuration file, 1-based (yaml-cpp marks are 0-based: add 1).
struct Mark {
    int line = 0;
    int column = 0;
    bool operator==(const Mark&) const = default;
};

enum class Severity { error, warning, note };

struct Diagnostic {
    Severity severity = Severity::error;
    std::string file;
    Mark mark;
    std::string path;  // dotted path of the setting, e.g. tls_contexts.sip.ciphers[2]
    std::string message;
};

class Diagnostics {
public:
    explicit Diagnostics(std::string file = {}) : file_(std::move(file)) {}

    void error(Mark mark, std::string path, std::string message);
    void warning(Mark mark, std::string path, std::string message);
    void note(Mark mark, std::string path, std::string message);

    bool has_errors() const { return errors_ > 0; }
    int error_count() const { return errors_; }
    const std::vector<Diagnostic>& all() const { return list_; }
    const std::string& file() const { return file_; }

    // Every diagnostic, one per line, in the order found.
    std::string to_string() const;

private:
    std::string file_;
    std::vector<Diagnostic> list_;
    int errors_ = 0;
};

// One diagnostic as a line (without newline).
std::string format(const Diagnostic& d);

// The closest candidate to `word` (case-insensitive edit distance), or empty when none is
// close enough to be a plausible typo.
std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace ward::config
