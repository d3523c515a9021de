// SPDX-License-Identifier: Apache-2.0
// SIP both ways through the real ward binary, with Kamailio as the registrar and proxy behind it
// (deploy/examples/kamailio-behind-ward.cfg, as shipped) and two UAs in front of it: sipp over
// TCP into stunnel4 clients that hold each UA's certificate. Nothing reaches a UA except over
// the TLS connection it opened to ward: their Contacts do not resolve.
//
//   sipp A --TCP-- stunnel A ==TLS==+                      +-- TCP --> Kamailio
//                                   +--> ward sip-in ------+
//   sipp B --TCP-- stunnel B ==TLS==+   ward sip-in/return <-- TCP -- Kamailio (Path, route sets)
//
// A registers (ward adds Path with A's flow token); B calls A twice: the INVITEs reach A
// through the return listener, B hangs up the first and A the second along the route sets.
// Then A leaves: the next call to A gets ward's 430 through Kamailio; a UA whose subject the
// context does not select never registers.
#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/e2e/stunnel_client.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::e2e::StunnelClient;
using ward::test::BackgroundProcess;
using ward::test::ProcessResult;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

const fs::path kScenarios = fs::path(WARD_SOURCE_DIR) / "tests/e2e/sip";
const fs::path kKamailioConfig = fs::path(WARD_SOURCE_DIR) / "deploy/examples/kamailio-behind-ward.cfg";

// Kamailio running the shipped example, its port 25060 moved to a free one.
std::unique_ptr<BackgroundProcess> start_kamailio(const fs::path& dir, std::uint16_t& port) {
    const auto example = ward::test::read_text_file(kKamailioConfig);
    REQUIRE(contains(example, "listen=tcp:127.0.0.1:25060\n"));
    for (int attempt = 0; attempt < 3; ++attempt) {
        port = ward::test::reserve_port();
        const auto cfg = dir / ("kamailio-" + std::to_string(port) + ".cfg");
        ward::test::write_text_file(cfg, std::regex_replace(example, std::regex("127\\.0\\.0\\.1:25060"),
                                                            "127.0.0.1:" + std::to_string(port)));
        auto p = std::make_unique<BackgroundProcess>(std::vector<std::string>{
            "kamailio", "-f", cfg.string(), "-DD", "-E", "-m", "32", "-M", "8", "-Y", dir.string(), "-P",
            (dir / "kamailio.pid").string()});
        REQUIRE_MESSAGE(p->started(), p->describe());
        if (ward::test::wait_for_port(port, 15s) && !p->exited()) return p;
        p->wait_exit(5s);
        MESSAGE("Kamailio could not listen on a reserved port; trying another:\n" << p->describe());
    }
    FAIL("Kamailio did not start");
    return nullptr;
}

// `call_id`: the scenario's [call_id] (sipp maps what it receives to its calls by Call-ID).
std::vector<std::string> sipp_args(const std::string& scenario, std::uint16_t target, const fs::path& log,
                                   const std::string& call_id) {
    return {"sipp", "-cid_str", call_id,       "-sf",      (kScenarios / scenario).string(),
            "-t",         "t1",       "-i",
            "127.0.0.1",  "-p",       std::to_string(ward::test::reserve_port()),
            "127.0.0.1:" + std::to_string(target), "-m", "1",
            "-nostdin",   "-timeout", "40s",
            "-trace_msg", "-message_file", log.string(),
            "-trace_err", "-error_file", log.string() + ".errors"};
}

// One scenario to its end (retried when another process took sipp's reserved local port).
ProcessResult run_sipp(const std::string& scenario, std::uint16_t target, const fs::path& log,
                       const std::string& call_id) {
    ProcessResult result;
    for (int attempt = 0; attempt < 3; ++attempt) {
        result = ward::test::run_process(sipp_args(scenario, target, log, call_id), 60s);
        if (!contains(result.err, "Unable to bind main socket")) break;
    }
    return result;
}

std::string metric(const std::string& text, const std::string& sample) {
    const auto at = text.find("\n" + sample + " ");
    if (at == std::string::npos) return "";
    const auto start = at + 1 + sample.size() + 1;
    return text.substr(start, text.find('\n', start) - start);
}

std::string scrape(std::uint16_t port) {
    return ward::test::run_process({"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(port) + "/metrics"},
                                   20s)
        .out;
}

}  // namespace

TEST_CASE("e2e sip edge: Kamailio reaches two TLS UAs through ward both ways and gets 430 for a closed flow") {
    TempDir dir{"e2e-sip-edge"};
    TestPki pki{dir.path() / "pki"};
    std::uint16_t kamailio_port = 0;
    auto kamailio = start_kamailio(dir.path(), kamailio_port);

    const auto file = ward::e2e::write_config(
        dir.path(), ward::e2e::pki_sections({"alice.ua.test", "bob.ua.test", "carol.ua.test"}) +
                        "tls_contexts:\n"
                        "  sip-peers:\n"
                        "    certificate: server\n"
                        "    trust_store: peers\n"
                        "    peer_subjects: [alice.ua.test, bob.ua.test]\n"
                        "    verify_peer: required\n"
                        "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
                        "listeners:\n"
                        "  - name: sip-in\n"
                        "    protocol: sip\n"
                        "    bind: 127.0.0.1:0\n"
                        "    backends: [127.0.0.1:" + std::to_string(kamailio_port) + "]\n"
                        "    tls_context: sip-peers\n"
                        "    sip: { return_bind: '127.0.0.1:0' }\n");
    WardProcess ward(file);
    const auto sip_port = ward.port("sip-in");
    REQUIRE(ward.port("sip-in/return") != 0);
    const auto a_cert = pki.issue("ua-a", TestPki::client_spec("alice.ua.test"));
    const auto b_cert = pki.issue("ua-b", TestPki::client_spec("bob.ua.test"));
    const auto c_cert = pki.issue("ua-c", TestPki::client_spec("carol.ua.test"));
    StunnelClient stunnel_a(dir.path(), pki, sip_port, &a_cert);
    StunnelClient stunnel_b(dir.path(), pki, sip_port, &b_cert);
    StunnelClient stunnel_c(dir.path(), pki, sip_port, &c_cert);
    INFO("kamailio:\n" << kamailio->output() << "\nward:\n" << ward.log());

    // A registers: Kamailio checks the certificate against the address of record and stores
    // ward's Path (with A's path token; its form is checked in tests/integration/sip_edge_test.cpp).
    const auto a_log = dir.path() / "a-messages.log";
    BackgroundProcess ua_a(sipp_args("ua_a.xml", stunnel_a.port(), a_log, "ward-e2e-edge"));
    REQUIRE_MESSAGE(ua_a.started(), ua_a.describe());
    REQUIRE_MESSAGE(kamailio->wait_for_output("ward-e2e: registered sip:alice@registrar.test for alice.ua.test", 30s),
                    kamailio->output() << ua_a.describe());
    CHECK(contains(kamailio->output(), "ward-e2e: REGISTER sip:registrar.test from 127.0.0.1:"));
    CHECK(contains(kamailio->output(), "peer=alice.ua.test;listener=sip-in;context=sip-peers"));

    // C's certificate names a subject the context does not select: refused in the handshake,
    // its REGISTER never reaches Kamailio.
    const auto c = run_sipp("ua_c.xml", stunnel_c.port(), dir.path() / "c-messages.log", "ward-e2e-carol");
    CHECK(c.exit_code != 0);
    CHECK(ward.wait_for_log("carol.ua.test", 10s));
    CHECK_FALSE(contains(kamailio->output(), "carol"));

    // B calls A twice: both INVITEs reach A over A's TLS connection; B hangs up the first call,
    // A the second, each BYE following the dialog's route set through ward and Kamailio.
    const auto b = run_sipp("ua_b_calls.xml", stunnel_b.port(), dir.path() / "b-messages.log", "ward-e2e-edge");
    INFO("sipp B:\n" << b.out << b.err << "\nB's messages:\n" << ward::test::read_text_file(dir.path() / "b-messages.log")
                     << "\nA's messages:\n" << ward::test::read_text_file(a_log));
    CHECK(b.exit_code == 0);
    const auto a_status = ua_a.wait_exit(30s);
    INFO("sipp A:\n" << ua_a.describe() << ward::test::read_text_file(a_log.string() + ".errors"));
    CHECK(a_status == std::optional<int>(0));
    const auto a_messages = ward::test::read_text_file(a_log);
    // What A received came through ward: ward's Record-Route pair on top, facing A.
    CHECK(std::regex_search(a_messages, std::regex("INVITE sip:alice@ua-a\\.invalid;transport=tls SIP/2\\.0\r?\n"
                                                   "Record-Route: <sip:127\\.0\\.0\\.1:" + std::to_string(sip_port) +
                                                   ";transport=tls;lr>")));
    const auto kamailio_log = kamailio->output();
    CHECK(contains(kamailio_log, "ward-e2e: BYE sip:alice@ua-a.invalid;transport=tls from 127.0.0.1:"));
    CHECK(contains(kamailio_log, "ward-e2e: BYE sip:bob@ua-b.invalid;transport=tls from 127.0.0.1:"));

    // A is gone (its sipp exited, its stunnel closed the TLS connection): once ward has seen
    // both flows end, a call to A gets ward's 430 through Kamailio, and carol is unknown.
    // (A session's summary line comes after its flow closed.)
    REQUIRE(ward.wait_for_log("peer_subject=alice.ua.test", 20s));
    REQUIRE(ward.wait_for_log("peer_subject=bob.ua.test", 20s));
    const auto metrics_port = ward.metrics_port();
    auto text = scrape(metrics_port);
    REQUIRE(metric(text, "ward_sip_flows_open{listener=\"sip-in\",protocol=\"sip\"}") == "0");
    const auto after = run_sipp("ua_b_after.xml", stunnel_b.port(), dir.path() / "b-after.log", "ward-e2e-after");
    INFO("sipp B after:\n" << after.out << after.err << ward::test::read_text_file(dir.path() / "b-after.log"));
    CHECK(after.exit_code == 0);
    text = scrape(metrics_port);
    CHECK(metric(text, "ward_sip_routed_total{listener=\"sip-in/return\",protocol=\"sip-return\",direction=\"request_to_peer\"}") ==
          "6");
    // The INVITE to A, and the ACK Kamailio's transaction sends hop by hop for the 430 (no answer).
    CHECK(metric(text, "ward_sip_flow_failures_total{listener=\"sip-in/return\",protocol=\"sip-return\",reason=\"closed\"}") == "2");
}
