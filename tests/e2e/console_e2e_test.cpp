// The admin console in a real browser: Debian's chromium driven by playwright-core
// (tests/e2e/browser/console.mjs) against the ward binary serving the shipped example
// configuration, with a generated administrator and auditor. Screenshots go to the test's
// output folder (build/tests/console-screenshots).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <regex>

#include "tests/e2e/e2e_helpers.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace ward;
using e2e::contains;

const fs::path kScreenshots = fs::path(WARD_BROWSER_DIR).parent_path() / "console-screenshots";

// The shipped example, its binds on port 0, a development PKI, two accounts.
struct ConsoleWard {
    test::TempDir dir{"console"};
    fs::path config = dir / "ward.yaml";
    std::unique_ptr<test::BackgroundProcess> ward;
    std::string url;

    ConsoleWard() {
        const fs::path examples = fs::path(WARD_SOURCE_DIR) / "deploy" / "examples";
        std::ifstream in(examples / "ward.yaml");
        std::string yaml((std::istreambuf_iterator<char>(in)), {});
        yaml = std::regex_replace(yaml, std::regex(R"((bind: *)(127\.0\.0\.1):\d+)"), "$1$2:0");
        test::write_text_file(config, yaml);
        fs::copy_file(examples / "banner.txt", dir / "banner.txt");
        REQUIRE(test::run_process({test::ward_binary(), "pki", "init", (dir / "pki").string()}).exit_code == 0);
        add("admin", "admin", "console-admin-1");
        add("audrey", "auditor", "console-auditor-1");
        ward = std::make_unique<test::BackgroundProcess>(std::vector<std::string>{test::ward_binary(), "run", "-c", config.string()});
        auto m = ward->wait_for_output(std::regex(R"(admin API on (https://127\.0\.0\.1:\d+)/)"), 20s);
        INFO(ward->describe());
        REQUIRE(m);
        url = m->groups[1];
        REQUIRE(ward->wait_for_output("ward started", 20s));
    }
    ~ConsoleWard() {
        ward->signal(SIGTERM);
        ward->wait_exit(20s);
    }

    void add(const std::string& name, const std::string& role, const std::string& password) {
        test::BackgroundProcess p({test::ward_binary(), "admin", "user", "add", "-c", config.string(), name, "--role", role,
                                   "--password-stdin"},
                                  {true, {}});
        REQUIRE(p.started());
        p.write_stdin(password + "\n");
        p.close_stdin();
        REQUIRE(p.wait_exit(30s) == 0);
    }

    // Runs one browser scenario; its findings.
    json::object scenario(const std::string& name, std::vector<std::string> params) {
        std::vector<std::string> argv = {"node", std::string(WARD_BROWSER_DIR) + "/console.mjs", name, url, kScreenshots.string()};
        argv.insert(argv.end(), params.begin(), params.end());
        auto r = test::run_process(argv, 120s);
        INFO("scenario " << name << ": " << r.out << r.err);
        INFO("ward log:\n" << ward->output());
        REQUIRE(r.exit_code == 0);
        json::error_code ec;
        auto v = json::parse(r.out, ec);
        REQUIRE_FALSE(ec);
        auto findings = v.as_object();
        // No script error on any page (failed requests the page expects are not script errors).
        if (auto* errors = findings.if_contains("errors"))
            for (const auto& e : errors->as_array()) CHECK(contains(e.as_string(), "Failed to load resource"));
        return findings;
    }
};

std::string str(const json::value& v) { return std::string(v.as_string()); }

}  // namespace

TEST_CASE("console e2e: the banner before and after login - a Secure HttpOnly SameSite cookie - logout ends the session") {
    ConsoleWard w;
    auto f = w.scenario("login", {"user=admin", "password=console-admin-1"});
    const std::string banner = "This system is for authorised use only. Activity is logged.";
    CHECK(contains(str(f.at("before")), banner));
    CHECK(contains(str(f.at("after")), banner));
    CHECK(str(f.at("landing")) == "System > Security > Settings");
    const auto& cookie = f.at("cookie").as_array().at(0).as_object();
    CHECK(str(cookie.at("name")) == "ward_session");
    CHECK(cookie.at("httpOnly").as_bool());
    CHECK(cookie.at("secure").as_bool());
    CHECK(str(cookie.at("sameSite")) == "Strict");
    CHECK(f.at("after_logout").as_int64() == 401);
    CHECK(fs::exists(kScreenshots / "login.png"));
}

TEST_CASE("console e2e: two administrators edit the same TLS context - the second is told of the conflict") {
    ConsoleWard w;
    auto f = w.scenario("conflict", {"user=admin", "password=console-admin-1",
                                     "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    CHECK(contains(str(f.at("first")), "Saved Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"));
    CHECK(contains(str(f.at("second")), "changed by someone else"));
    // The first change is in the file; the second never overwrote it.
    CHECK(contains(w.ward->output(), "reloaded: configuration generation 2"));
    CHECK_FALSE(contains(w.ward->output(), "reloaded: configuration generation 3"));
}

TEST_CASE("console e2e: an auditor sees no Save button - the API refuses the change - the audit chain is shown intact") {
    ConsoleWard w;
    auto f = w.scenario("auditor", {"user=audrey", "password=console-auditor-1",
                                    "context=Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context"});
    for (const auto& [page, count] : f.at("buttons").as_object()) {
        INFO(std::string(page));
        CHECK(count.as_int64() == 0);
    }
    CHECK(f.at("put_status").as_int64() == 403);
    CHECK(contains(str(f.at("chain")), "The hash chain is intact"));
}
