// SPDX-License-Identifier: Apache-2.0
// The admin API of the real ward binary, driven by real clients: curl, and `ward admin status`
// through a pseudo-terminal. Also: `ward admin user` and `ward audit verify` on the files the
// running ward wrote, enhanced mode's expired password and lockout, and kill -9 in the middle
// of configuration writes.
#include <poll.h>
#include <sys/stat.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "proxy/ops/accounts.hpp"
#include "tests/e2e/e2e_helpers.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace ward;
using namespace std::chrono_literals;
using e2e::contains;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

struct Curl {
    int status = 0;
    std::string headers;
    std::string body;
    json::object json() const {
        json::error_code ec;
        auto v = json::parse(body, ec);
        INFO(body);
        REQUIRE_FALSE(ec);
        return v.as_object();
    }
    std::string header(const std::string& name) const {
        std::regex re("(^|\n)" + name + ": ([^\r\n]*)", std::regex::icase);
        std::smatch m;
        return std::regex_search(headers, m, re) ? m[2].str() : std::string();
    }
};

// A ward with the admin API: the test PKI, one TLS listener, the admin section in `mode`.
struct AdminE2e {
    test::TempDir dir{"admin-e2e"};
    test::TestPki pki{dir.path() / "pki"};
    fs::path config;
    std::unique_ptr<test::BackgroundProcess> ward;
    std::uint16_t port = 0;

    explicit AdminE2e(const std::string& mode = "standard") {
        // The admin certificate names server.test and 127.0.0.1.
        auto spec = test::TestPki::client_spec("server.test");
        spec.dns_names = {"server.test"};
        spec.ip_addresses = {"127.0.0.1"};
        spec.server_auth = true;
        pki.issue("admin", spec);
        config = e2e::write_config(dir.path(), "node: { name: e2e-node, banner_file: banner.txt }\n"
                                               "security: { mode: " + mode + " }\n"
                                                   "certificates:\n  admin: { cert: pki/admin.pem, key: pki/admin.key }\n"
                                                   "tls_contexts:\n  admin: { certificate: admin, verify_peer: none }\n"
                                                   "listeners:\n  - { name: edge, protocol: tls, bind: '127.0.0.1:0', "
                                                   "backends: ['127.0.0.1:9'], tls_context: admin }\n"
                                                   "workers: 1\nmetrics: { enabled: false }\n"
                                                   "admin:\n  enabled: true\n  bind: '127.0.0.1:0'\n"
                                                   "  tls_context: admin\n  users_file: users.json\n"
                                                   "  audit_file: audit.log\n  password_iterations: 1000\n");
        test::write_text_file(dir / "banner.txt", "Authorised use only.\n");
    }

    void add_user(const std::string& name, const std::string& role, const std::string& password) {
        test::BackgroundProcess p({test::ward_binary(), "admin", "user", "add", "-c", config.string(), name, "--role",
                                   role, "--password-stdin"},
                                  {true, {}});
        REQUIRE(p.started());
        p.write_stdin(password + "\n");
        p.close_stdin();
        INFO(p.describe());
        REQUIRE(p.wait_exit(30s) == 0);
    }

    void start() {
        ward = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{test::ward_binary(), "run", "-c", config.string()});
        REQUIRE(ward->started());
        auto m = ward->wait_for_output(std::regex(R"(admin API on https://127\.0\.0\.1:(\d+)/)"), 20s);
        INFO(ward->describe());
        REQUIRE(m);
        port = static_cast<std::uint16_t>(std::stoi(m->groups[1]));
        REQUIRE(ward->wait_for_output("ward started", 20s));
    }

    void stop() {
        ward->signal(SIGTERM);
        CHECK(ward->wait_exit(20s) == 0);
    }

    std::string url(const std::string& path) const { return "https://server.test:" + std::to_string(port) + path; }

    Curl curl(const std::string& method, const std::string& path, const std::string& token = {},
              const std::string& body = {}, std::vector<std::string> headers = {}) const {
        std::vector<std::string> argv = {"curl", "-sS", "-D", "-", "--max-time", "20", "--cacert",
                                         pki.ca().cert.string(), "--resolve",
                                         "server.test:" + std::to_string(port) + ":127.0.0.1", "-X", method};
        if (!token.empty()) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token});
        if (!body.empty()) {
            argv.insert(argv.end(), {"--data-binary", body});
            bool typed = false;
            for (const auto& h : headers) typed = typed || h.rfind("Content-Type", 0) == 0;
            if (!typed) headers.push_back("Content-Type: application/json");
        }
        for (const auto& h : headers) argv.insert(argv.end(), {"-H", h});
        argv.push_back(url(path));
        auto r = test::run_process(argv, 30s);
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        Curl out;
        const auto split = r.out.find("\r\n\r\n");
        REQUIRE(split != std::string::npos);
        out.headers = r.out.substr(0, split);
        out.body = r.out.substr(split + 4);
        out.status = std::stoi(out.headers.substr(9, 3));
        return out;
    }

    std::string login(const std::string& name, const std::string& password) const {
        auto r = curl("POST", "/api/v1/session", {}, json::serialize(json::object{{"name", name}, {"password", password}}));
        INFO(r.body);
        REQUIRE(r.status == 201);
        return std::string(r.json().at("token").as_string());
    }
};

}  // namespace

TEST_CASE("admin e2e: curl changes a setting - ward audit verify finds a changed byte") {
    AdminE2e w;
    w.add_user("alice", "admin", "alice-password-1");
    auto users = test::run_process({test::ward_binary(), "admin", "user", "list", "-c", w.config.string()});
    CHECK(users.exit_code == 0);
    CHECK(contains(users.out, "alice  admin  created "));
    w.start();
    CHECK(w.curl("GET", "/api/v1/banner").body == "Authorised use only.\n");
    CHECK(w.curl("GET", "/readyz").status == 200);
    const auto token = w.login("alice", "alice-password-1");
    auto got = w.curl("GET", "/api/v1/security/xmpp", token);
    REQUIRE(got.status == 200);
    const auto etag = got.header("ETag");
    auto put = w.curl("PUT", "/api/v1/security/xmpp", token, R"({"web_client_secure":false})", {"If-Match: " + etag});
    INFO(put.body);
    CHECK(put.status == 200);
    auto listeners = w.curl("GET", "/api/v1/listeners", token).json();
    CHECK(listeners.at("generation").as_int64() == 2);
    CHECK(contains(w.ward->output(), "reloaded: configuration generation 2"));
    CHECK(w.curl("DELETE", "/api/v1/session", token).status == 200);
    w.stop();
    auto loaded = config::load_file(w.config);
    REQUIRE(loaded.config);
    CHECK_FALSE(loaded.config->security.xmpp.web_client_secure);

    const auto audit = (w.dir / "audit.log").string();
    auto ok = test::run_process({test::ward_binary(), "audit", "verify", audit});
    CHECK(ok.exit_code == 0);
    CHECK(ok.out == audit + ": 3 records, chain intact\n");  // login, update, logout
    // One byte in the middle record changed: named by line, exit 1.
    auto text = read_file(w.dir / "audit.log");
    const auto second = text.find('\n') + 1;
    const auto at = text.find("\"update\"", second);
    REQUIRE(at != std::string::npos);
    text[at + 1] = 'U';
    std::ofstream(w.dir / "audit.log", std::ios::binary | std::ios::trunc) << text;
    auto broken = test::run_process({test::ward_binary(), "audit", "verify", audit});
    CHECK(broken.exit_code == 1);
    CHECK(broken.out == audit + ":2: broken: changed: line 3 records another SHA-256 for it (or that hash was changed) "
                                "(2 records before it are intact)\n");
}

TEST_CASE("admin e2e: ward admin status in a terminal shows the banner before the password prompt and after login") {
    AdminE2e w;
    w.add_user("alice", "admin", "alice-password-1");
    w.start();
    int master = -1;
    const std::string port = std::to_string(w.port);
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const auto binary = test::ward_binary();
        const auto url = "https://127.0.0.1:" + port;
        const auto ca = w.pki.ca().cert.string();
        // The admin certificate names 127.0.0.1 (an iPAddress SAN): the client checks it.
        ::execl(binary.c_str(), binary.c_str(), "admin", "status", "--url", url.c_str(), "--user", "alice", "--ca",
                ca.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::string seen;
    auto read_until = [&](const std::string& needle) {
        const auto until = std::chrono::steady_clock::now() + 20s;
        while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
            pollfd p{master, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            char buf[4096];
            const auto n = ::read(master, buf, sizeof buf);
            if (n <= 0) break;
            seen.append(buf, static_cast<std::size_t>(n));
        }
        return seen.find(needle) != std::string::npos;
    };
    INFO(seen);
    REQUIRE(read_until("password for alice: "));
    const auto prompt = seen.find("password for alice: ");
    const auto before = seen.find("login banner (before login)");
    REQUIRE(before != std::string::npos);
    CHECK(before < prompt);
    CHECK(seen.find("Authorised use only.") < prompt);
    const std::string password = "alice-password-1\n";
    REQUIRE(::write(master, password.data(), password.size()) == static_cast<ssize_t>(password.size()));
    read_until("\x04never");  // to the end of its output
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::close(master);
    INFO(seen);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const auto after = seen.find("login banner (after login)");
    REQUIRE(after != std::string::npos);
    CHECK(after > prompt);
    CHECK(seen.find("Authorised use only.", after) != std::string::npos);
    CHECK(contains(seen, "logged in as alice (admin)"));
    CHECK(contains(seen, "  edge  tls  127.0.0.1:"));
    // The terminal did not echo the password.
    CHECK_FALSE(contains(seen, "alice-password-1"));
    w.stop();
}

TEST_CASE("admin e2e: enhanced mode demands a change of an expired password and locks after 3 failures" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    AdminE2e w("enhanced");
    {
        // An account whose password was set 61 days ago.
        ops::AccountStore store;
        const auto then = ops::SystemClock::now() - std::chrono::hours(24 * 61);
        ops::Account a;
        a.name = "erin";
        a.role = ops::Role::admin;
        a.created = then;
        REQUIRE(store.add(a));
        REQUIRE(store.set_password(*store.find("erin"), "Enhanced-Password-1", 1000, then));
        REQUIRE(store.save(w.dir / "users.json"));
    }
    w.start();
    auto login = w.curl("POST", "/api/v1/session", {}, R"({"name":"erin","password":"Enhanced-Password-1"})");
    REQUIRE(login.status == 201);
    CHECK(login.json().at("password_change_required").as_bool());
    const auto token = std::string(login.json().at("token").as_string());
    auto refused = w.curl("GET", "/api/v1/listeners", token);
    CHECK(refused.status == 403);
    CHECK(contains(refused.body, "the password has expired: change it first"));
    auto too_short = w.curl("PUT", "/api/v1/session/password", token, R"({"current":"Enhanced-Password-1","new":"Short-1"})");
    CHECK(too_short.status == 422);
    CHECK(contains(too_short.body, "a password needs at least 14 characters"));
    auto classes = w.curl("PUT", "/api/v1/session/password", token,
                          R"({"current":"Enhanced-Password-1","new":"onlylowercaseletters"})");
    CHECK(classes.status == 422);
    auto same = w.curl("PUT", "/api/v1/session/password", token,
                       R"({"current":"Enhanced-Password-1","new":"Enhanced-Password-1"})");
    CHECK(same.status == 422);
    CHECK(contains(same.body, "the new password is the current one"));
    auto changed = w.curl("PUT", "/api/v1/session/password", token,
                          R"({"current":"Enhanced-Password-1","new":"Enhanced-Password-2"})");
    INFO(changed.body);
    CHECK(changed.status == 200);
    CHECK(w.curl("GET", "/api/v1/listeners", token).status == 200);
    // A second change the same day: the minimum age refuses it.
    auto again = w.curl("PUT", "/api/v1/session/password", token,
                        R"({"current":"Enhanced-Password-2","new":"Enhanced-Password-3"})");
    CHECK(again.status == 422);
    CHECK(contains(again.body, "changed less than 1 day ago"));
    // Three failures lock the account for 30 minutes, even for the right password.
    for (int i = 0; i < 3; ++i)
        CHECK(w.curl("POST", "/api/v1/session", {}, R"({"name":"erin","password":"wrong"})").status == 401);
    auto locked = w.curl("POST", "/api/v1/session", {}, R"({"name":"erin","password":"Enhanced-Password-2"})");
    CHECK(locked.status == 403);
    w.stop();
    // Enhanced mode audits reads too.
    const auto audit = read_file(w.dir / "audit.log");
    CHECK(contains(audit, R"("action":"read","resource":"/api/v1/listeners")"));
    CHECK(contains(audit, R"("action":"lockout")"));
    CHECK(test::run_process({test::ward_binary(), "audit", "verify", (w.dir / "audit.log").string()}).exit_code == 0);
}

TEST_CASE("admin e2e: kill -9 during configuration writes leaves the old or the new file") {
    AdminE2e w;
    w.add_user("alice", "admin", "alice-password-1");
    int old_seen = 0, new_seen = 0;
    for (int round = 0; round < 6; ++round) {
        w.start();
        const auto token = w.login("alice", "alice-password-1");
        const auto before = config::load_file(w.config);
        REQUIRE(before.config);
        const bool was = before.config->security.xmpp.client_to_node_secure;
        const auto etag = w.curl("GET", "/api/v1/security/xmpp", token).header("ETag");
        // The write is under way (or about to be) when ward is killed.
        test::BackgroundProcess put({"curl", "-sS", "--max-time", "20", "--cacert", w.pki.ca().cert.string(),
                                     "--resolve", "server.test:" + std::to_string(w.port) + ":127.0.0.1", "-X", "PUT",
                                     "-H", "Authorization: Bearer " + token, "-H", "If-Match: " + etag, "-H",
                                     "Content-Type: application/json", "--data-binary",
                                     std::string(R"({"client_to_node_secure":)") + (was ? "false" : "true") + "}",
                                     w.url("/api/v1/security/xmpp")});
        REQUIRE(put.started());
        w.ward->wait_for_output("PUT /api/v1/security/xmpp", 200ms * (round % 3));
        w.ward->signal(SIGKILL);
        w.ward->wait_exit(20s);
        put.wait_exit(30s);
        auto after = config::load_file(w.config);
        INFO(after.diagnostics.to_string());
        INFO(read_file(w.config));
        REQUIRE(after.config);  // whole and valid, never a mix
        if (after.config->security.xmpp.client_to_node_secure == was) ++old_seen;
        else ++new_seen;
        // The audit chain stays whole too (a record is one write of one line).
        auto verdict = test::run_process({test::ward_binary(), "audit", "verify", (w.dir / "audit.log").string()});
        CHECK(verdict.exit_code == 0);
    }
    MESSAGE("old file kept " << old_seen << " times, new file " << new_seen << " times");
    CHECK(old_seen + new_seen == 6);
}

TEST_CASE("admin e2e: ward admin user manages the users file offline - 0600 - policy - refusals") {
    AdminE2e w;
    const auto ward = test::ward_binary();
    const auto cfg = w.config.string();
    auto with_stdin = [&](std::vector<std::string> argv, const std::string& input) {
        test::BackgroundProcess p(std::move(argv), {true, {}});
        REQUIRE(p.started());
        p.write_stdin(input);
        p.close_stdin();
        auto status = p.wait_exit(30s);
        REQUIRE(status);
        return std::pair<int, std::string>(*status, p.output());
    };
    auto weak = with_stdin({ward, "admin", "user", "add", "-c", cfg, "bob", "--role", "operator", "--password-stdin"}, "short\n");
    CHECK(weak.first == 1);
    CHECK(contains(weak.second, "ward admin user add: a password needs at least 8 characters"));
    CHECK(with_stdin({ward, "admin", "user", "add", "-c", cfg, "bob", "--role", "operator", "--password-stdin"},
                     "bob-password-1\n").first == 0);
    struct stat st {};
    REQUIRE(::stat((w.dir / "users.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto twice = with_stdin({ward, "admin", "user", "add", "-c", cfg, "bob", "--role", "admin", "--password-stdin"}, "x\n");
    CHECK(twice.first == 1);
    CHECK(contains(twice.second, "account 'bob' already exists"));
    auto bad_role = test::run_process({ward, "admin", "user", "add", "-c", cfg, "eve", "--role", "root", "--generate"});
    CHECK(bad_role.exit_code == 64);
    CHECK(contains(bad_role.err, "unknown role 'root'"));
    auto bad_name = test::run_process({ward, "admin", "user", "add", "-c", cfg, "../eve", "--role", "admin", "--generate"});
    CHECK(bad_name.exit_code == 64);
    auto same = with_stdin({ward, "admin", "user", "passwd", "-c", cfg, "bob", "--password-stdin"}, "bob-password-1\n");
    CHECK(same.first == 1);
    CHECK(contains(same.second, "the new password is the current one"));
    auto generated = test::run_process({ward, "admin", "user", "passwd", "-c", cfg, "bob", "--generate"});
    CHECK(generated.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(generated.out, m, std::regex("password \\(shown once\\): (\\S+)")));
    auto store = ops::AccountStore::load(w.dir / "users.json", false);
    REQUIRE(store);
    CHECK(ops::verify_password(m[1].str(), store->find("bob")->password));
    CHECK(store->find("bob")->history.size() == 1);
    // A users file others can read is refused, by the CLI and by ward run.
    ::chmod((w.dir / "users.json").c_str(), 0644);
    auto open_file = test::run_process({ward, "admin", "user", "list", "-c", cfg});
    CHECK(open_file.exit_code == 78);
    CHECK(contains(open_file.err, "has mode 0644; it holds password hashes and must be 0600"));
    auto run = test::run_process({ward, "run", "-c", cfg}, 30s);
    CHECK(run.exit_code == 69);
    CHECK(contains(run.err + run.out, "has mode 0644"));
    ::chmod((w.dir / "users.json").c_str(), 0600);
    CHECK(test::run_process({ward, "admin", "user", "del", "-c", cfg, "bob"}).exit_code == 0);
    CHECK(test::run_process({ward, "admin", "user", "del", "-c", cfg, "bob"}).exit_code == 1);
    auto list = test::run_process({ward, "admin", "user", "list", "-c", cfg});
    CHECK(list.out.empty());
}
