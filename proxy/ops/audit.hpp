// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin plane's audit log (admin.audit_file): append-only JSON lines, one record per admin
// action, login, failed login and lockout. Each record carries the SHA-256 of the line before it
// ("prev"; 64 zeros for the first), so changing, removing or inserting any record but the last
// breaks the chain, and `ward audit verify` names the first broken one. Every record is fsynced
// before the request it records is answered. Secrets never go in.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "config/result.hpp"
#include "proxy/ops/accounts.hpp"

namespace ward::ops {

struct AuditEntry {
    std::string account;   // who ("" before a login)
    std::string source;    // address:port of the client
    std::string action;    // e.g. login, login-failed, lockout, update, create, delete, reload, read
    std::string resource;  // e.g. /api/v1/peer-subjects/sip.example
    boost::json::value before;  // null when nothing applies
    boost::json::value after;
    std::string result;  // "ok", or why not (the HTTP status and reason)
};

class AuditLog {
public:
    // Opens `file` for appending (created 0600 when missing), after checking its last record is
    // whole. `node` goes into every record.
    static Result<AuditLog> open(const std::filesystem::path& file, std::string node);
    AuditLog(AuditLog&&) noexcept;
    AuditLog& operator=(AuditLog&&) noexcept;
    ~AuditLog();

    // Appends and fsyncs one record; the chain continues from the last one written.
    Status append(const AuditEntry& entry, SystemClock::time_point now);
    // The records written at or after `since`, oldest first, at most `limit`.
    Result<std::vector<boost::json::value>> read_since(SystemClock::time_point since, std::size_t limit) const;
    const std::filesystem::path& file() const { return file_; }

private:
    AuditLog() = default;
    std::filesystem::path file_;
    std::string node_;
    int fd_ = -1;
    std::string last_hash_;
};

struct AuditVerdict {
    bool ok = true;
    std::size_t records = 0;      // whole, chained records read
    std::size_t broken_line = 0;  // 1-based line of the first broken record (when !ok)
    std::string why;
};
AuditVerdict verify_audit(const std::filesystem::path& file);

}  // namespace ward::ops
