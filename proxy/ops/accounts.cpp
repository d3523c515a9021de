// SPDX-License-Identifier: Apache-2.0
#include "proxy/ops/accounts.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>

#include <boost/json.hpp>

#include "config/writer.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/crypto.hpp"

namespace ward::ops {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16;  // 128 bits: the FIPS provider's floor
constexpr std::size_t kKeyBytes = 32;

std::optional<std::string> pbkdf2(std::string_view password, std::string_view salt, std::uint32_t iterations) {
    return crypto::pbkdf2_sha256(password, salt, iterations, kKeyBytes);
}

int character_classes(std::string_view s) {
    bool lower = false, upper = false, digit = false, other = false;
    for (unsigned char c : s) {
        if (c >= 'a' && c <= 'z') lower = true;
        else if (c >= 'A' && c <= 'Z') upper = true;
        else if (c >= '0' && c <= '9') digit = true;
        else other = true;
    }
    return lower + upper + digit + other;
}

// Characters, not bytes: UTF-8 continuation bytes do not count.
std::size_t characters(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string days(std::chrono::seconds s) {
    const auto d = s.count() / 86400;
    return std::to_string(d) + (d == 1 ? " day" : " days");
}

}  // namespace

std::string_view to_string(Role role) {
    switch (role) {
        case Role::admin: return "admin";
        case Role::operator_: return "operator";
        case Role::auditor: return "auditor";
    }
    return "auditor";
}

std::optional<Role> parse_role(std::string_view text) {
    if (text == "admin") return Role::admin;
    if (text == "operator") return Role::operator_;
    if (text == "auditor") return Role::auditor;
    return std::nullopt;
}

CredentialPolicy credential_policy(const config::Config& config) {
    CredentialPolicy p;
    const auto& a = config.admin;
    p.lockout_attempts = a.lockout_attempts;
    p.lockout_duration = a.lockout_duration;
    p.idle_timeout = a.session_timeout;
    p.lifetime = a.session_lifetime;
    const auto mode = config.security.mode;
    if (mode == config::SecurityMode::enhanced || mode == config::SecurityMode::common_criteria) {
        p.min_length = 14;
        p.min_classes = 3;
        p.history = kPasswordHistory;
        p.min_age = std::chrono::hours(24);
        p.max_age = std::chrono::hours(24 * 60);
        p.lockout_attempts = std::min<std::uint32_t>(a.lockout_attempts, 3);
        p.lockout_duration = std::max<config::Duration>(a.lockout_duration, std::chrono::minutes(30));
        p.idle_timeout = std::min<config::Duration>(a.session_timeout, std::chrono::minutes(15));
        p.lifetime = std::max(p.lifetime, p.idle_timeout);
        p.audit_reads = true;
    }
    return p;
}

bool is_account_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-') return false;
    for (unsigned char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::optional<std::string> check_new_password(const CredentialPolicy& policy, const Account* account,
                                              std::string_view password, SystemClock::time_point now) {
    if (characters(password) < policy.min_length)
        return "a password needs at least " + std::to_string(policy.min_length) + " characters";
    if (characters(password) > 1024) return "a password has at most 1024 characters";
    for (unsigned char c : password)
        if (c < 0x20 || c == 0x7f) return "a password may not contain control characters";
    if (character_classes(password) < policy.min_classes)
        return "a password needs characters from at least " + std::to_string(policy.min_classes) +
               " of: lower case letters, upper case letters, digits, others";
    if (!account) return std::nullopt;
    if (policy.min_age.count() > 0 && now - account->changed < policy.min_age)
        return "the password was changed less than " + days(policy.min_age) + " ago; it may change again after " +
               format_time(account->changed + policy.min_age);
    if (verify_password(password, account->password)) return "the new password is the current one";
    const auto n = std::min(policy.history, account->history.size());
    for (std::size_t i = 0; i < n; ++i)
        if (verify_password(password, account->history[i]))
            return "the password was used before: none of the last " + std::to_string(policy.history) +
                   " may be used again";
    return std::nullopt;
}

bool password_expired(const CredentialPolicy& policy, const Account& account, SystemClock::time_point now) {
    return policy.max_age.count() > 0 && now - account.changed >= policy.max_age;
}

Result<std::string> hash_password(std::string_view password, std::uint32_t iterations) {
    const auto salt = random_bytes(kSaltBytes);
    auto key = pbkdf2(password, salt, iterations);
    if (!key) return Error{"PBKDF2-HMAC-SHA256 is not available from the OpenSSL providers in use"};
    return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + base64(salt) + "$" + base64(*key);
}

bool verify_password(std::string_view password, std::string_view encoded) {
    // scheme$iterations$salt$key
    std::string_view parts[4];
    std::size_t start = 0;
    for (int i = 0; i < 4; ++i) {
        const auto end = i == 3 ? encoded.size() : encoded.find('$', start);
        if (end == std::string_view::npos) return false;
        parts[i] = encoded.substr(start, end - start);
        start = end + 1;
    }
    if (parts[0] != kScheme) return false;
    std::uint32_t iterations = 0;
    auto [p, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
    if (ec != std::errc{} || p != parts[1].data() + parts[1].size() || iterations < 1000 || iterations > 10000000)
        return false;
    auto salt = from_base64(parts[2]);
    auto key = from_base64(parts[3]);
    if (!salt || !key || key->size() != kKeyBytes) return false;
    auto derived = pbkdf2(password, *salt, iterations);
    return derived && equal_secrets(*derived, *key);
}

std::string format_time(SystemClock::time_point t) {
    const std::time_t tt = SystemClock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<SystemClock::time_point> parse_time(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end != '\0') return std::nullopt;
    // The clock counts nanoseconds in 64 bits: it ends in 2262.
    if (tm.tm_year < 70 || tm.tm_year > 2200 - 1900) return std::nullopt;
    return SystemClock::from_time_t(timegm(&tm));
}

Account* AccountStore::find(std::string_view name) {
    for (auto& a : accounts_)
        if (a.name == name) return &a;
    return nullptr;
}

const Account* AccountStore::find(std::string_view name) const {
    for (const auto& a : accounts_)
        if (a.name == name) return &a;
    return nullptr;
}

Status AccountStore::add(Account account) {
    if (!is_account_name(account.name))
        return Error{"'" + account.name + "' is not an account name (1 to 64 letters, digits, '.', '_', '-')"};
    if (find(account.name)) return Error{"account '" + account.name + "' already exists"};
    accounts_.push_back(std::move(account));
    return {};
}

bool AccountStore::remove(std::string_view name) {
    for (auto it = accounts_.begin(); it != accounts_.end(); ++it) {
        if (it->name == name) {
            accounts_.erase(it);
            return true;
        }
    }
    return false;
}

Status AccountStore::set_password(Account& account, std::string_view password, std::uint32_t iterations,
                                  SystemClock::time_point now) {
    auto hashed = hash_password(password, iterations);
    if (!hashed) return Error{hashed.error()};
    if (!account.password.empty()) account.history.insert(account.history.begin(), account.password);
    if (account.history.size() > kPasswordHistory) account.history.resize(kPasswordHistory);
    account.password = std::move(*hashed);
    account.changed = now;
    return {};
}

std::string AccountStore::to_json() const {
    json::array list;
    for (const auto& a : accounts_) {
        json::array history;
        for (const auto& h : a.history) history.emplace_back(h);
        list.emplace_back(json::object{{"name", a.name},
                                       {"role", std::string(to_string(a.role))},
                                       {"password", a.password},
                                       {"created", format_time(a.created)},
                                       {"changed", format_time(a.changed)},
                                       {"history", std::move(history)}});
    }
    return json::serialize(json::object{{"version", 1}, {"accounts", std::move(list)}}) + "\n";
}

Result<AccountStore> AccountStore::from_json(std::string_view text) {
    json::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec || !doc.is_object()) return Error{"not a ward users file (JSON object expected)"};
    const auto* list = doc.as_object().if_contains("accounts");
    if (!list || !list->is_array()) return Error{"not a ward users file (no 'accounts' list)"};
    AccountStore store;
    std::size_t i = 0;
    for (const auto& v : list->as_array()) {
        const auto where = "accounts[" + std::to_string(i++) + "]";
        if (!v.is_object()) return Error{where + ": expected an object"};
        const auto& o = v.as_object();
        auto text_of = [&](const char* key) -> std::optional<std::string> {
            const auto* f = o.if_contains(key);
            if (!f || !f->is_string()) return std::nullopt;
            return std::string(f->as_string());
        };
        Account a;
        auto name = text_of("name");
        auto role = text_of("role");
        auto password = text_of("password");
        auto created = text_of("created");
        auto changed = text_of("changed");
        if (!name || !role || !password || !created || !changed)
            return Error{where + ": needs name, role, password, created and changed"};
        a.name = *name;
        auto r = parse_role(*role);
        if (!r) return Error{where + ": unknown role '" + *role + "'"};
        a.role = *r;
        a.password = *password;
        auto c = parse_time(*created);
        auto ch = parse_time(*changed);
        if (!c || !ch) return Error{where + ": times are written like 2026-12-05T01:02:03Z"};
        a.created = *c;
        a.changed = *ch;
        if (const auto* h = o.if_contains("history"); h && h->is_array()) {
            for (const auto& x : h->as_array())
                if (x.is_string()) a.history.emplace_back(x.as_string());
        }
        if (auto s = store.add(std::move(a)); !s) return Error{where + ": " + s.error()};
    }
    return store;
}

Result<AccountStore> AccountStore::load(const fs::path& file, bool allow_missing) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        if (errno == ENOENT && allow_missing) return AccountStore{};
        return Error{"cannot read the users file '" + file.string() + "': " + std::strerror(errno)};
    }
    if (!S_ISREG(st.st_mode)) return Error{"the users file '" + file.string() + "' is not a regular file"};
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return Error{"the users file '" + file.string() + "' has mode " + mode +
                     "; it holds password hashes and must be 0600 (chmod 600 '" + file.string() + "')"};
    }
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return Error{"cannot read the users file '" + file.string() + "'"};
    auto store = from_json(text);
    if (!store) return Error{file.string() + ": " + store.error()};
    return store;
}

Status AccountStore::save(const fs::path& file) const {
    config::SaveOptions options;
    options.mode = 0600;
    return config::save_text_atomically(file, to_json(), options);
}

}  // namespace ward::ops
