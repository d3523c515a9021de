#include "proxy/ops/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/json.hpp>

#include "proxy/ops/secrets.hpp"

namespace ward::ops {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string kFirstPrev(64, '0');

// The file's lines; `whole` is false when the last one has no newline (a torn write).
std::vector<std::string> read_lines(const fs::path& file, bool& whole, bool& readable) {
    std::ifstream in(file, std::ios::binary);
    readable = static_cast<bool>(in);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> lines;
    std::size_t start = 0;
    whole = true;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        if (end == std::string::npos) {
            lines.push_back(text.substr(start));
            whole = false;
            break;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
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
    auto lines = read_lines(file, whole, readable);
    if (!readable) return Error{"cannot read the audit file '" + file.string() + "'"};
    if (!whole)
        return Error{"the audit file '" + file.string() + "' ends in an incomplete record (line " +
                     std::to_string(lines.size()) + "); check it with 'ward audit verify' and move it aside"};
    log.last_hash_ = lines.empty() ? kFirstPrev : sha256_hex(lines.back());
    return log;
}

Status AuditLog::append(const AuditEntry& e, SystemClock::time_point now) {
    json::object record{{"time", format_time(now)},  {"node", node_},         {"account", e.account},
                        {"source", e.source},         {"action", e.action},    {"resource", e.resource},
                        {"before", e.before},         {"after", e.after},      {"result", e.result},
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
    bool whole = true, readable = true;
    auto lines = read_lines(file_, whole, readable);
    if (!readable) return Error{"cannot read the audit file"};
    std::vector<json::value> out;
    const auto from = format_time(since);  // ISO 8601 UTC strings sort as times do
    for (const auto& l : lines) {
        json::error_code ec;
        auto v = json::parse(l, ec);
        if (ec || !v.is_object()) continue;
        const auto* t = v.as_object().if_contains("time");
        if (!t || !t->is_string() || std::string_view(t->as_string()) < from) continue;
        out.push_back(std::move(v));
        if (out.size() > limit) out.erase(out.begin());
    }
    return out;
}

AuditVerdict verify_audit(const fs::path& file) {
    AuditVerdict v;
    bool whole = true, readable = true;
    auto lines = read_lines(file, whole, readable);
    if (!readable) {
        v.ok = false;
        v.why = "cannot read '" + file.string() + "'";
        return v;
    }
    std::string prev = kFirstPrev;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto line_no = i + 1;
        auto fail = [&](std::size_t line, std::string why) {
            v.ok = false;
            v.broken_line = line;
            v.why = std::move(why);
            return v;
        };
        if (i + 1 == lines.size() && !whole) return fail(line_no, "the last record is incomplete (a torn write)");
        json::error_code ec;
        auto record = json::parse(lines[i], ec);
        if (ec || !record.is_object()) return fail(line_no, "not a JSON record");
        const auto* p = record.as_object().if_contains("prev");
        if (!p || !p->is_string()) return fail(line_no, "the record has no 'prev' hash");
        if (std::string_view(p->as_string()) != prev) {
            if (i == 0) return fail(line_no, "the first record does not start the chain (records before it were removed?)");
            return fail(line_no - 1, "changed: line " + std::to_string(line_no) +
                                         " records another SHA-256 for it (or that hash was changed)");
        }
        prev = sha256_hex(lines[i]);
        ++v.records;
    }
    return v;
}

}  // namespace ward::ops
