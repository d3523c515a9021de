// SPDX-License-Identifier: Apache-2.0
// The admin audit log: hash-chained JSON lines, and the verification that names the first
// broken record (proxy/ops/audit).
#include <sys/stat.h>

#include <fstream>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "proxy/ops/audit.hpp"
#include "../support/tls_test_support.hpp"

using namespace ward;

namespace {

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// Writes `n` records and returns the file's text.
std::string five_records(const std::filesystem::path& file, int n = 5) {
    auto log = ops::AuditLog::open(file, "node-1");
    REQUIRE(log);
    for (int i = 0; i < n; ++i) {
        ops::AuditEntry e{"alice", "127.0.0.1:4000", "update", "/api/v1/security/xmpp",
                          boost::json::object{{"client_to_node_secure", true}},
                          boost::json::object{{"client_to_node_secure", i % 2 == 0}}, "ok"};
        REQUIRE(log->append(e, ops::SystemClock::from_time_t(1796083200 + i)));
    }
    return read_all(file);
}

}  // namespace

TEST_CASE("audit records chain by SHA-256 and verify") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    const auto text = five_records(file);
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const auto first = text.substr(0, text.find('\n'));
    auto record = boost::json::parse(first).as_object();
    CHECK(record.at("time").as_string() == "2026-12-01T00:00:00Z");
    CHECK(record.at("node").as_string() == "node-1");
    CHECK(record.at("account").as_string() == "alice");
    CHECK(record.at("prev").as_string() == std::string(64, '0'));
    auto v = ops::verify_audit(file);
    CHECK(v.ok);
    CHECK(v.records == 5);

    // Opening again continues the chain.
    {
        auto log = ops::AuditLog::open(file, "node-1");
        REQUIRE(log);
        REQUIRE(log->append({"bob", "", "login", "/api/v1/session", nullptr, nullptr, "ok"}, ops::SystemClock::now()));
    }
    CHECK(ops::verify_audit(file).records == 6);
}

TEST_CASE("one byte changed in the middle of the audit log is found and named") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    auto text = five_records(file);
    // Line 3's account: alice -> alicf (still valid JSON).
    std::size_t line3 = 0;
    for (int i = 0; i < 2; ++i) line3 = text.find('\n', line3) + 1;
    const auto at = text.find("alice", line3);
    text[at + 4] = 'f';
    write_all(file, text);
    auto v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 3);
    CHECK(v.records == 3);  // lines 1-3 parse and chain; line 4 records another hash of line 3
    CHECK(v.why == "changed: line 4 records another SHA-256 for it (or that hash was changed)");
}

TEST_CASE("a removed or reordered audit record breaks the chain") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    const auto text = five_records(file);
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < text.size();) {
        const auto end = text.find('\n', pos);
        lines.push_back(text.substr(pos, end - pos + 1));
        pos = end + 1;
    }
    // The first record removed: the new first does not start the chain.
    std::string without_first;
    for (std::size_t i = 1; i < lines.size(); ++i) without_first += lines[i];
    write_all(file, without_first);
    auto v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 1);
    // Two records swapped.
    write_all(file, lines[0] + lines[2] + lines[1] + lines[3] + lines[4]);
    v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 1);
}

TEST_CASE("a torn last audit record is reported and refuses to be appended to") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    auto text = five_records(file, 2);
    write_all(file, text + "{\"time\":\"2026");
    auto v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 3);
    CHECK(v.why == "the last record is incomplete (a torn write)");
    auto log = ops::AuditLog::open(file, "n");
    REQUIRE_FALSE(log);
    CHECK(log.error().find("ends in an incomplete record (line 3)") != std::string::npos);
}

TEST_CASE("audit fields with newlines and quotes stay on one line") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    {
        auto log = ops::AuditLog::open(file, "n");
        REQUIRE(log);
        REQUIRE(log->append({"x\n{\"forged\":1}", "s", "login-failed", "/r\"\n", nullptr, nullptr, "401"},
                            ops::SystemClock::now()));
    }
    const auto text = read_all(file);
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(ops::verify_audit(file).ok);
}

TEST_CASE("audit before and after values are made UTF-8 and long texts are cut") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    {
        auto log = ops::AuditLog::open(file, "n");
        REQUIRE(log);
        boost::json::object before{{"subject", "CN=\xff\xfe"}, {"list", boost::json::array{"ok", "\xc0"}}};
        REQUIRE(log->append({"a", "s", "create", std::string(5000, 'r'), before, nullptr, "ok"}, ops::SystemClock::now()));
    }
    CHECK(ops::verify_audit(file).ok);
    auto record = boost::json::parse(read_all(file)).as_object();
    CHECK(record.at("before").as_object().at("subject").as_string() == "CN=\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(record.at("before").as_object().at("list").as_array()[1].as_string() == "\xef\xbf\xbd");
    CHECK(record.at("resource").as_string() == std::string(1024, 'r') + "... (5000 bytes)");
}

TEST_CASE("a line longer than any record is reported without reading it whole") {
    test::TempDir dir("audit");
    const auto file = dir / "audit.log";
    auto text = five_records(file, 2);
    write_all(file, text + std::string(5 * 1024 * 1024, '\0') + "\n");
    auto v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 3);
    CHECK(v.why == "a line longer than 4 MiB: not a record");
    CHECK(v.records == 2);
    // Empty lines are not records either.
    write_all(file, text + "\n");
    v = ops::verify_audit(file);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_line == 3);
    CHECK(v.why == "not a JSON record");
}
