// SPDX-License-Identifier: Apache-2.0
// Administrator accounts and the credential policy of each security mode (proxy/ops/accounts).
#include <sys/stat.h>

#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "proxy/ops/accounts.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;
using ops::SystemClock;

namespace {

constexpr std::uint32_t kIterations = 1000;  // the FIPS floor: fast enough for tests

config::Config config_in(config::SecurityMode mode) {
    config::Config c;
    c.security.mode = mode;
    return c;
}

ops::Account account_with(const std::string& password, SystemClock::time_point changed) {
    ops::Account a;
    a.name = "alice";
    a.role = ops::Role::admin;
    a.created = changed;
    a.changed = changed;
    a.password = *ops::hash_password(password, kIterations);
    return a;
}

const auto kNow = SystemClock::from_time_t(1796083200);  // 2026-12-01T00:00:00Z

}  // namespace

TEST_CASE("a password hash verifies its password and nothing else") {
    auto h = ops::hash_password("correct horse", kIterations);
    REQUIRE(h);
    CHECK(h->rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(ops::verify_password("correct horse", *h));
    CHECK_FALSE(ops::verify_password("correct hors", *h));
    CHECK_FALSE(ops::verify_password("", *h));
    // The salt is per hash: the same password hashes differently.
    CHECK(*ops::hash_password("correct horse", kIterations) != *h);
    // Malformed hashes never verify.
    const std::vector<std::string> malformed = {"",
                                                "pbkdf2-sha256$1000$",
                                                "md5$1000$AAAA$AAAA",
                                                "pbkdf2-sha256$999$" + h->substr(19),
                                                "pbkdf2-sha256$x$AAAA$AAAA",
                                                h->substr(0, h->size() - 4)};
    for (const auto& bad : malformed)
        CHECK_FALSE(ops::verify_password("correct horse", bad));
}

TEST_CASE("standard mode asks 8 characters and keeps no history") {
    const auto p = ops::credential_policy(config_in(config::SecurityMode::standard));
    CHECK(*ops::check_new_password(p, nullptr, "short", kNow) == "a password needs at least 8 characters");
    CHECK_FALSE(ops::check_new_password(p, nullptr, "longenough", kNow));
    const auto a = account_with("longenough", kNow);
    CHECK(*ops::check_new_password(p, &a, "longenough", kNow) == "the new password is the current one");
    CHECK_FALSE(ops::password_expired(p, a, kNow + std::chrono::hours(24 * 365)));
    CHECK(p.lockout_attempts == 5);
    CHECK_FALSE(p.audit_reads);
}

TEST_CASE("enhanced mode refuses each credential rule with its reason") {
    for (auto mode : {config::SecurityMode::enhanced, config::SecurityMode::common_criteria}) {
        const auto p = ops::credential_policy(config_in(mode));
        CHECK(*ops::check_new_password(p, nullptr, "Short1!", kNow) == "a password needs at least 14 characters");
        CHECK(*ops::check_new_password(p, nullptr, "alllowercaseletters", kNow) ==
              "a password needs characters from at least 3 of: lower case letters, upper case letters, digits, others");
        CHECK(*ops::check_new_password(p, nullptr, "TwoClassesOnlyHere", kNow) ==
              "a password needs characters from at least 3 of: lower case letters, upper case letters, digits, others");
        CHECK_FALSE(ops::check_new_password(p, nullptr, "Three-Classes-Here", kNow));
        // Minimum age: a day between changes.
        auto a = account_with("First-Password-1", kNow);
        CHECK(*ops::check_new_password(p, &a, "Second-Password-2", kNow + std::chrono::hours(23)) ==
              "the password was changed less than 1 day ago; it may change again after 2026-12-02T00:00:00Z");
        // No reuse of the last 24.
        ops::AccountStore store;
        REQUIRE(store.add(a));
        auto* s = store.find("alice");
        auto t = kNow;
        for (int i = 0; i < 24; ++i) {
            t += std::chrono::hours(25);
            REQUIRE(store.set_password(*s, "Rotating-Password-" + std::to_string(i), kIterations, t));
        }
        CHECK(s->history.size() == 24);
        t += std::chrono::hours(25);
        CHECK(*ops::check_new_password(p, s, "Rotating-Password-0", t) ==
              "the password was used before: none of the last 24 may be used again");
        // The first is the 24th before the current one: still refused; one change later it may come back.
        CHECK(*ops::check_new_password(p, s, "First-Password-1", t) ==
              "the password was used before: none of the last 24 may be used again");
        REQUIRE(store.set_password(*s, "Rotating-Password-24", kIterations, t));
        t += std::chrono::hours(25);
        CHECK_FALSE(ops::check_new_password(p, s, "First-Password-1", t));
        // Maximum age: 60 days, then login demands a change.
        CHECK_FALSE(ops::password_expired(p, *s, s->changed + std::chrono::hours(24 * 60 - 1)));
        CHECK(ops::password_expired(p, *s, s->changed + std::chrono::hours(24 * 60)));
        // Lockout and idle timeout: 3 failures, 30 minutes; 15 minutes idle.
        CHECK(p.lockout_attempts == 3);
        CHECK(p.lockout_duration == std::chrono::minutes(30));
        CHECK(p.idle_timeout == std::chrono::minutes(15));
        CHECK(p.audit_reads);
    }
}

TEST_CASE("account names are letters - digits - dot - underscore - hyphen") {
    CHECK(ops::is_account_name("alice"));
    CHECK(ops::is_account_name("ops_team-2.a"));
    const std::vector<std::string> bad_names = {"", ".hidden", "-x", "a/b", "../etc", "a b", "caf\xc3\xa9",
                                                std::string(65, 'a')};
    for (const auto& bad : bad_names)
        CHECK_FALSE(ops::is_account_name(bad));
}

TEST_CASE("the users file round-trips - is written 0600 - and is refused when others can read it") {
    test::TempDir dir("accounts");
    const auto file = dir / "users.json";
    ops::AccountStore store;
    auto a = account_with("longenough", kNow);
    a.role = ops::Role::auditor;
    REQUIRE(store.add(a));
    CHECK_FALSE(store.add(a));  // the same name twice
    REQUIRE(store.save(file));
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    auto back = ops::AccountStore::load(file, false);
    REQUIRE(back);
    REQUIRE(back->accounts().size() == 1);
    const auto& b = back->accounts()[0];
    CHECK(b.name == "alice");
    CHECK(b.role == ops::Role::auditor);
    CHECK(b.changed == kNow);
    CHECK(ops::verify_password("longenough", b.password));

    ::chmod(file.c_str(), 0640);
    auto refused = ops::AccountStore::load(file, false);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == "the users file '" + file.string() +
                                 "' has mode 0640; it holds password hashes and must be 0600 (chmod 600 '" +
                                 file.string() + "')");
    // Missing: an empty store when allowed, an error otherwise.
    CHECK(ops::AccountStore::load(dir / "none.json", true));
    CHECK_FALSE(ops::AccountStore::load(dir / "none.json", false));
    // Not a users file.
    test::write_text_file(dir / "bad.json", "{\"accounts\": [{\"name\": \"x\"}]}");
    ::chmod((dir / "bad.json").c_str(), 0600);
    auto bad = ops::AccountStore::load(dir / "bad.json", false);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == (dir / "bad.json").string() + ": accounts[0]: needs name, role, password, created and changed");
}

TEST_CASE("times are ISO 8601 UTC both ways") {
    CHECK(ops::format_time(kNow) == "2026-12-01T00:00:00Z");
    CHECK(ops::parse_time("2026-12-01T00:00:00Z") == kNow);
    CHECK_FALSE(ops::parse_time("2026-12-01 00:00:00"));
    CHECK_FALSE(ops::parse_time("2026-12-01T00:00:00Zjunk"));
    CHECK_FALSE(ops::parse_time("2999-01-01T00:00:00Z"));  // beyond the 64-bit nanosecond clock
}
