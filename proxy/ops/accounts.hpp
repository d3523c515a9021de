// SPDX-License-Identifier: Apache-2.0
#pragma once
// Administrator accounts (admin.users_file) and the credential policy of each security mode.
// The file is JSON, mode 0600 (refused otherwise), written atomically; passwords are stored as
// PBKDF2-HMAC-SHA256 hashes through OpenSSL's EVP (FIPS-approved, so it works under the FIPS
// provider) with a per-user salt and the iteration count beside the hash. Shared by
// `ward admin user ...` (offline) and the admin API.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/result.hpp"

namespace ward::ops {

using SystemClock = std::chrono::system_clock;

// admin: everything; operator: status and restart; auditor: read settings and the audit log.
enum class Role { admin, operator_, auditor };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct Account {
    std::string name;
    Role role = Role::auditor;
    std::string password;  // "pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>"
    SystemClock::time_point created;
    SystemClock::time_point changed;
    std::vector<std::string> history;  // earlier password hashes, newest first (at most 24)
};

// The rules a mode holds administrators to. Standard and fips: the configured lockout and
// idle timeout, 8 characters. Enhanced and common-criteria (the guide's enhanced security
// mode): 14 characters from three classes, none of the last 24 again, at least a day between
// changes, at most 60 days old (then login demands a change), 3 failures lock for 30 minutes,
// 15 minutes idle.
struct CredentialPolicy {
    std::size_t min_length = 8;
    int min_classes = 1;
    std::size_t history = 0;  // earlier passwords that may not come back
    std::chrono::seconds min_age{0};
    std::chrono::seconds max_age{0};  // 0: none
    std::uint32_t lockout_attempts = 5;
    config::Duration lockout_duration = std::chrono::minutes(15);
    config::Duration idle_timeout = std::chrono::minutes(30);
    config::Duration lifetime = std::chrono::hours(8);
    bool audit_reads = false;  // every read is audited, not only changes
};
CredentialPolicy credential_policy(const config::Config& config);

inline constexpr std::size_t kPasswordHistory = 24;

// A name: 1 to 64 of letters, digits, '.', '_', '-', not starting with '.' or '-'.
bool is_account_name(std::string_view name);

// Why `password` may not become `account`'s password (nullopt: it may). `account` is null for
// a new one; `now` is when the change happens.
std::optional<std::string> check_new_password(const CredentialPolicy& policy, const Account* account,
                                              std::string_view password, SystemClock::time_point now);
// True when the account's password is older than the policy allows (login demands a change).
bool password_expired(const CredentialPolicy& policy, const Account& account, SystemClock::time_point now);

Result<std::string> hash_password(std::string_view password, std::uint32_t iterations);
// Constant-time comparison of the derived key; false for a malformed hash too.
bool verify_password(std::string_view password, std::string_view encoded);

class AccountStore {
public:
    // Reads `file`; a missing file is an empty store when `allow_missing`. Refused when the file
    // can be read or written by anyone but its owner.
    static Result<AccountStore> load(const std::filesystem::path& file, bool allow_missing);
    // Writes the store atomically, mode 0600.
    Status save(const std::filesystem::path& file) const;

    const std::vector<Account>& accounts() const { return accounts_; }
    Account* find(std::string_view name);
    const Account* find(std::string_view name) const;
    Status add(Account account);
    bool remove(std::string_view name);
    // Sets a new password (already checked against the policy), keeping the old in the history.
    Status set_password(Account& account, std::string_view password, std::uint32_t iterations,
                        SystemClock::time_point now);

    std::string to_json() const;
    static Result<AccountStore> from_json(std::string_view text);

private:
    std::vector<Account> accounts_;
};

// ISO 8601 UTC with seconds ("2026-12-05T01:02:03Z") and back.
std::string format_time(SystemClock::time_point t);
std::optional<SystemClock::time_point> parse_time(std::string_view text);

}  // namespace ward::ops
