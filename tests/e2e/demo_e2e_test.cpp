// SPDX-License-Identifier: Apache-2.0
// The README's run command, deploy/run-example.sh: the demo stack (prosody with two accounts,
// sipp answering SIP, ward in front of both) starts, the commands it prints work as printed
// (go-sendxmpp listens as bob and sends as alice through ward; openssl s_client asks the SIP
// server for its options over mutual TLS), and Ctrl-C stops every process it started.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundProcess;

// The printed command lines ("  $ ..."), in order.
std::vector<std::string> printed_commands(const std::string& output) {
    std::vector<std::string> out;
    static const std::regex line(R"((^|\n)  \$ ([^\n]+))");
    for (std::sregex_iterator it(output.begin(), output.end(), line), end; it != end; ++it) out.push_back((*it)[2]);
    return out;
}

// The live processes whose parent is `pid` (from /proc/*/stat; zombies left out).
std::set<pid_t> children_of(pid_t pid) {
    std::set<pid_t> out;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == pid && state != 'Z') out.insert(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

bool alive(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return false;
    const auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// A printed command, run by bash in a process group of its own (a pipeline is several
// processes: the group is stopped together).
class Command {
public:
    explicit Command(const std::string& line) : process_({"setsid", "bash", "-c", line}) {
        REQUIRE_MESSAGE(process_.started(), process_.error());
    }
    ~Command() {
        ::kill(-process_.pid(), SIGTERM);
        process_.wait_exit(5s);
        ::kill(-process_.pid(), SIGKILL);
    }
    BackgroundProcess& process() { return process_; }

private:
    BackgroundProcess process_;
};

}  // namespace

TEST_CASE("demo e2e: run-example.sh starts the stack - its printed commands work - Ctrl-C stops all of it") {
    ward::test::TempDir dir{"e2e-demo"};
    const auto script = fs::path(WARD_SOURCE_DIR) / "deploy/run-example.sh";
    BackgroundProcess demo({"env", "WARD_BIN=" + ward::test::ward_binary(), "WARD_EXAMPLE_DIR=" + dir.path().string(),
                            "WARD_EXAMPLE_PORTS=auto", "bash", script.string()});
    REQUIRE_MESSAGE(demo.started(), demo.error());
    REQUIRE_MESSAGE(demo.wait_for_output("Ctrl-C stops ward, prosody and sipp.", 90s), demo.describe());
    const auto commands = printed_commands(demo.out());
    REQUIRE_MESSAGE(commands.size() == 3, demo.out());
    const auto started = children_of(demo.pid());
    CHECK(started.size() == 3);  // prosody, sipp, ward

    {
        Command bob(commands[0]);  // go-sendxmpp --listen as bob
        const auto sent = ward::test::run_process({"bash", "-c", commands[1]}, 60s);
        CHECK_MESSAGE(sent.exit_code == 0, sent.out << sent.err);
        CHECK_MESSAGE(bob.process().wait_for_output("alice@ward.test: hello through ward", 30s),
                      bob.process().describe() << "\nward:\n" << ward::test::read_text_file(dir.path() / "ward.log"));
    }
    {
        Command sip(commands[2]);  // OPTIONS over mutual TLS
        CHECK_MESSAGE(sip.process().wait_for_output("SIP/2.0 200 OK", 30s), sip.process().describe());
        CHECK(contains(sip.process().out(), "CSeq: 1 OPTIONS"));
    }
    // Ctrl-C: the script stops what it started and exits.
    REQUIRE(demo.signal(SIGINT));
    CHECK_MESSAGE(demo.wait_exit(30s) == 0, demo.describe());
    CHECK(contains(demo.out(), "stopped"));
    for (const auto pid : started) CHECK_MESSAGE(!alive(pid), "process " << pid << " still runs");
}
