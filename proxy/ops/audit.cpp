// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include <boost/json.hpp>

#include "config/values.hpp"
#include "proxy/ops/secrets.hpp"

namespace ward::ops {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string kFirstPrev(64, '0');

// The next line of `in` without its newline, at most `max` bytes: 1 a line ended by a newline,
// 0 the end of the file (`line` holds what came after the last newline, if anything), -1 a line
// longer than `max` (not a record ward writes).
int next_line(std::istream& in, std::string& line, std::size_t max) {
    line.clear();
    char chunk[4096];
    for (;;) {
        in.get(chunk, sizeof chunk, '\n');
        line.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (line.size() > max) return -1;
        if (in.eof()) return 0;
        if (in.fail()) in.clear();  // an empty line, or nothing read: not an error
        if (in.peek() == '\n') {
            in.get();
            return 1;
        }
        if (in.eof()) return 0;
    }
}

constexpr std::size_t kMaxRecord = 4 * 1024 * 1024;

// The file's last line, streamed (memory stays at a line); `whole` is false when it has no
// newline after it (a torn write), `count` how many lines there are.
std::string last_line(const fs::path& file, bool& whole, bool& readable, std::size_t& count) {
    std::ifstream in(file, std::ios::binary);
    readable = static_cast<bool>(in);
    std::string line, last;
    whole = true;
    count = 0;
    while (std::getline(in, line)) {
        ++count;
        whole = !in.eof();
        last = std::move(line);
    }
    return last;
}

// Text for a record: invalid UTF-8 becomes U+FFFD, so every record stays JSON that parses
// (a record that does not would read as tampering), and at most 1024 bytes of it are kept.
std::string clean(std::string_view s) {
    constexpr std::size_t kMax = 1024;
    std::string out;
    if (s.size() > kMax) {
        auto cut = kMax;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
        return clean(s.substr(0, cut)) + "... (" + std::to_string(s.size()) + " bytes)";
    }
    while (!s.empty()) {
        const auto bad = config::first_invalid_utf8(s);
        if (bad == std::string_view::npos) {
            out.append(s);
            break;
        }
        out.append(s.substr(0, bad));
        out.append("\xEF\xBF\xBD");
        s.remove_prefix(bad + 1);
    }
    return out;
}

// The same for every string inside a JSON value (keys too).
json::value clean(const json::value& v) {
    if (v.is_string()) return json::value(clean(std::string_view(v.as_string())));
    if (v.is_array()) {
        json::array out;
        for (const auto& x : v.as_array()) out.push_back(clean(x));
        return out;
    }
    if (v.is_object()) {
        json::object out;
        for (const auto& kv : v.as_object()) out[clean(std::string_view(kv.key()))] = clean(kv.value());
        return out;
    }
    return v;
}

}  // namespace

AuditLog::AuditLog(AuditLog&& o) noexcept
    : file_(std::move(o.file_)), node_(std::move(o.node_)), fd_(o.fd_), last_hash_(std::move(o.last_hash_)) {
    o.fd_ = -1;
}

AuditLog& AuditLog::operator=(AuditLog&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        file_ = std::move(o.file_);
        node_ = std::move(o.node_);
        fd_ = o.fd_;
        last_hash_ = std::move(o.last_hash_);
        o.fd_ = -1;
    }
    return *this;
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
}

Result<AuditLog> AuditLog::open(const fs::path& file, std::string node) {
    AuditLog log;
    log.file_ = file;
    log.node_ = std::move(node);
    log.fd_ = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log.fd_ < 0) return Error{"cannot open the audit file '" + file.string() + "': " + std::strerror(errno)};
    bool whole = true, readable = true;
    std::size_t count = 0;
    const auto last = last_line(file, whole, readable, count);
    if (!readable) return Error{"cannot read the audit file '" + file.string() + "'"};
    if (!whole)
        return Error{"the audit file '" + file.string() + "' ends in an incomplete record (line " +
                     std::to_string(count) + "); check it with 'ward audit verify' and move it aside"};
    log.last_hash_ = count == 0 ? kFirstPrev : sha256_hex(last);
    return log;
}

Status AuditLog::append(const AuditEntry& e, SystemClock::time_point now) {
    // "time" first: read_since finds it at a fixed place without parsing the line.
    json::object record{{"time", format_time(now)},   {"node", clean(node_)},         {"account", clean(e.account)},
                        {"source", clean(e.source)},   {"action", clean(e.action)},    {"resource", clean(e.resource)},
                        {"before", clean(e.before)},   {"after", clean(e.after)},             {"result", clean(e.result)},
                        {"prev", last_hash_}};
    const auto line = json::serialize(record);
    const auto text = line + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error{"cannot write the audit file '" + file_.string() + "': " + std::strerror(errno)};
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0) return Error{"cannot sync the audit file '" + file_.string() + "': " + std::strerror(errno)};
    last_hash_ = sha256_hex(line);
    return {};
}

Result<std::vector<json::value>> AuditLog::read_since(SystemClock::time_point since, std::size_t limit) const {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return Error{"cannot read the audit file"};
    // One pass; lines before `since` are skipped by their time alone (ISO 8601 UTC strings sort
    // as times do), and only the last `limit` kept are parsed.
    const auto from = format_time(since);
    constexpr std::string_view kTime = "{\"time\":\"";
    std::deque<std::string> kept;
    for (std::string line; std::getline(in, line);) {
        if (line.compare(0, kTime.size(), kTime) != 0 || line.size() < kTime.size() + from.size()) continue;
        if (std::string_view(line).substr(kTime.size(), from.size()) < from) continue;
        kept.push_back(std::move(line));
        if (kept.size() > limit) kept.pop_front();
    }
    std::vector<json::value> out;
    for (const auto& l : kept) {
        json::error_code ec;
        auto v = json::parse(l, ec);
        if (!ec && v.is_object()) out.push_back(std::move(v));
    }
    return out;
}

AuditVerdict verify_audit(const fs::path& file) {
    // One line at a time: memory stays at a record (at most 4 MiB), whatever the file's size.
    AuditVerdict v;
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        v.ok = false;
        v.why = "cannot read '" + file.string() + "'";
        return v;
    }
    auto fail = [&](std::size_t line, std::string why) {
        v.ok = false;
        v.broken_line = line;
        v.why = std::move(why);
        return v;
    };
    std::string prev = kFirstPrev;
    std::string line;
    std::size_t line_no = 0;
    for (;;) {
        const int got = next_line(in, line, kMaxRecord);
        if (got == 0 && line.empty()) break;
        ++line_no;
        if (got < 0) return fail(line_no, "a line longer than 4 MiB: not a record");
        if (got == 0) return fail(line_no, "the last record is incomplete (a torn write)");  // no newline after it
        json::error_code ec;
        auto record = json::parse(line, ec);
        if (ec || !record.is_object()) return fail(line_no, "not a JSON record");
        const auto* p = record.as_object().if_contains("prev");
        if (!p || !p->is_string()) return fail(line_no, "the record has no 'prev' hash");
        if (std::string_view(p->as_string()) != prev) {
            if (line_no == 1)
                return fail(line_no, "the first record does not start the chain (records before it were removed?)");
            return fail(line_no - 1, "changed: line " + std::to_string(line_no) +
                                         " records another SHA-256 for it (or that hash was changed)");
        }
        prev = sha256_hex(line);
        ++v.records;
    }
    if (in.bad()) return fail(line_no + 1, "the file could not be read to its end");
    return v;
}

}  // namespace ward::ops
