// SPDX-License-Identifier: Apache-2.0
// The Exchange egress with real software: curl as the local presence service (plain HTTP to
// ward on loopback), the ward binary, and an EWS stand-in over TLS (tests/e2e/exchange/
// ews_standin.py) that verifies NTLMv2 (response, MIC, channel bindings) with Debian's
// python3-ntlm-auth, an implementation independent of ward's, and asserts that no NTLMv1 or LM
// response ever reaches it. Every scenario runs in standard mode and in fips mode on the real
// FIPS provider.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "tests/e2e/e2e_helpers.hpp"
#include "tests/support/net_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;
using ward::test::BackgroundProcess;
using ward::test::CertFiles;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;

const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-ntlm-auth
const fs::path kStandin = fs::path(WARD_SOURCE_DIR) / "tests/e2e/exchange/ews_standin.py";
const std::string kUser = "presence";
const std::string kPassword = "Calendar:Pass w0rd";
const std::string kDomain = "EXAMPLE";

using ward::e2e::fips_module_dir;

const char* const kSoap =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" "
    "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"><soap:Body>"
    "<m:GetUserAvailabilityRequest><t:MailboxDataArray><t:MailboxData><t:Email>"
    "<t:Address>alice@example.com</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType>"
    "</t:MailboxData></t:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow>"
    "<t:StartTime>2026-12-05T00:00:00</t:StartTime><t:EndTime>2026-12-06T00:00:00</t:EndTime>"
    "</t:TimeWindow><t:RequestedView>FreeBusy</t:RequestedView></t:FreeBusyViewOptions>"
    "</m:GetUserAvailabilityRequest></soap:Body></soap:Envelope>";

struct Exchange {
    TempDir dir{"e2e-exchange"};
    TestPki pki{dir.path() / "pki"};
    std::unique_ptr<BackgroundProcess> standin;
    std::uint16_t standin_port = 0;
    std::unique_ptr<WardProcess> ward;
    fs::path soap = dir.path() / "request.xml";
    std::string exchange_extra_;
    fs::path config;
    std::string mode_;

    // The stand-in (its certificate naming `names`), then ward in `mode` with `auth`.
    Exchange(const std::string& mode, const std::string& auth, std::vector<std::string> standin_args,
             std::vector<std::string> names = {"localhost"}, std::string exchange_extra = "")
        : exchange_extra_(std::move(exchange_extra)) {
        ward::ops::CertSpec spec;
        spec.common_names = {names.front()};
        spec.dns_names = names;
        spec.client_auth = false;
        const CertFiles cert = pki.issue("ews", spec);
        std::vector<std::string> argv{kPython, kStandin.string(), "--cert", cert.cert.string(), "--key", cert.key.string(),
                                      "--user", kUser, "--password", kPassword, "--domain", kDomain};
        argv.insert(argv.end(), standin_args.begin(), standin_args.end());
        standin = std::make_unique<BackgroundProcess>(argv);
        REQUIRE_MESSAGE(standin->started(), standin->describe());
        const auto listening = standin->wait_for_output(std::regex(R"("event": "listening", "port": (\d+))"), 30s);
        REQUIRE_MESSAGE(listening, standin->describe());
        standin_port = static_cast<std::uint16_t>(std::stoi(listening->groups[1]));

        const auto credentials = dir.path() / "ews.credentials";
        ward::test::write_text_file(credentials, "# the EWS service account\nuser=" + kUser + "\npassword=" + kPassword + "\n");
        ::chmod(credentials.c_str(), 0600);
        ward::test::write_text_file(soap, kSoap);
        mode_ = mode;
        config = ward::e2e::write_config(dir.path(), config_text(auth));
        ward = std::make_unique<WardProcess>(config);
    }

    std::string config_text(const std::string& auth, const std::string& extra = "") const {
        const std::string security =
            mode_ == "fips" ? "security: { mode: fips, fips_module_dir: " + fips_module_dir() + " }\n" : "";
        return security +
               "trust_stores: { ews-trust: { dir: pki/trust } }\n"
               "tls_contexts:\n"
               "  ews: { trust_store: ews-trust }\n"
               // One worker: the pool of authenticated connections is per worker.
               "workers: 1\n"
               "pid_file: ward.pid\n"
               "metrics: { enabled: true, bind: '127.0.0.1:0' }\n"
               "listeners:\n"
               "  - name: ews\n    protocol: exchange-egress\n    bind: '127.0.0.1:0'\n"
               "    backends: ['localhost:" + std::to_string(standin_port) + "']\n"
               "    tls_context: ews\n"
               "    exchange: { auth: " + auth + ", credentials_file: ews.credentials, domain: " + kDomain +
               ", workstation: PRESENCE" + exchange_extra_ + extra + " }\n";
    }

    // Rewrites the configuration with another exchange.auth and reloads ward.
    void reload_with(const std::string& auth, const std::string& extra = "") {
        const auto from = ward->log().size();
        ward::e2e::write_config(dir.path(), config_text(auth, extra));
        const auto reloaded = ward::test::run_process({ward::test::ward_binary(), "reload", "-c", config.string()});
        REQUIRE_MESSAGE(reloaded.exit_code == 0, reloaded.out << reloaded.err);
        REQUIRE(ward->wait_for_log("reloaded", 10s, from));
    }

    // `n` GetUserAvailability requests in one curl (one kept-alive local connection).
    ward::test::ProcessResult ask(int n = 1) const {
        std::vector<std::string> argv{"curl", "-sS", "--max-time", "30", "-H", "Content-Type: text/xml; charset=utf-8",
                                      "-w", "[%{http_code}]\\n"};
        const auto url = "http://127.0.0.1:" + std::to_string(ward->port("ews")) + "/EWS/Exchange.asmx";
        for (int i = 0; i < n; ++i) {
            if (i) argv.push_back("--next");
            for (const auto& a : {std::string("--data-binary"), "@" + soap.string(), url}) argv.push_back(a);
            if (i) {
                for (const auto& a : {std::string("-H"), std::string("Content-Type: text/xml; charset=utf-8"),
                                      std::string("-w"), std::string("[%{http_code}]\\n")})
                    argv.push_back(a);
            }
        }
        return ward::test::run_process(argv, 60s);
    }

    std::string events() const { return standin->out(); }
    int count(const std::string& needle) const {
        int n = 0;
        const auto text = events();
        for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
        return n;
    }
    std::string metrics() const {
        const auto r = ward::test::run_process(
            {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(ward->metrics_port()) + "/metrics"}, 20s);
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        return r.out;
    }
    std::string metric(const std::string& family, const std::string& label) const {
        return family + "{listener=\"ews\",protocol=\"exchange-egress\"" + label + "}";
    }
    std::string describe() const { return "stand-in:\n" + standin->output() + "\nward:\n" + ward->log(); }
};

// One kept-alive local connection, as a presence service holds it: a request, then the whole
// answer (its Content-Length), as often as asked.
class KeptAlive {
public:
    explicit KeptAlive(std::uint16_t port) : fd_(ward::test::connect_tcp(port)) {
        REQUIRE(fd_ >= 0);
        timeval tv{30, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~KeptAlive() { ::close(fd_); }
    KeptAlive(const KeptAlive&) = delete;
    KeptAlive& operator=(const KeptAlive&) = delete;

    std::string ask(const std::string& method, const std::string& body, const std::string& path = "/EWS/Exchange.asmx") {
        const auto request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
        std::string in;
        char buf[4096];
        for (;;) {
            const auto end = in.find("\r\n\r\n");
            if (end != std::string::npos) {
                const auto at = in.find("Content-Length: ");
                const std::size_t length = at < end ? std::stoul(in.substr(at + 16)) : 0;
                if (in.size() >= end + 4 + length) {
                    auto answer = in.substr(0, end + 4 + length);
                    return answer;
                }
            }
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return in;
            in.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_;
};

int answered(const std::string& curl_out, const std::string& code) {
    int n = 0;
    for (auto at = curl_out.find("[" + code + "]"); at != std::string::npos; at = curl_out.find("[" + code + "]", at + 1)) ++n;
    return n;
}

void ntlm_offered(const std::string& mode, const std::string& scheme) {
    Exchange x(mode, "auto", {"--offer", scheme});
    // Two local connections, five requests: one Exchange connection, authenticated once.
    const auto first = x.ask(3);
    REQUIRE_MESSAGE(first.exit_code == 0, first.err << x.describe());
    CHECK(answered(first.out, "200") == 3);
    CHECK(contains(first.out, "GetUserAvailabilityResponse"));
    const auto second = x.ask(2);
    CHECK(answered(second.out, "200") == 2);
    INFO(x.describe());
    CHECK(x.count("\"event\": \"connection\"") == 1);
    CHECK(x.count("\"event\": \"negotiate\"") == 1);
    CHECK(x.count("\"event\": \"auth\"") == 1);
    CHECK(contains(x.events(), "\"method\": \"ntlmv2\""));
    // The stand-in's timestamp made ward send a MIC (verified) and a zero LM response; the
    // channel bindings name the stand-in's certificate; the SPN its host.
    CHECK(contains(x.events(), "\"mic\": true"));
    CHECK(contains(x.events(), "\"lm\": \"zero\""));
    CHECK(contains(x.events(), "\"cbt\": \"ok\""));
    CHECK(contains(x.events(), "\"spn\": \"HTTP/localhost\""));
    CHECK(contains(x.events(), "\"workstation\": \"PRESENCE\""));
    CHECK(x.count("\"auth\": \"ntlmv2\"") == 1);                 // the AUTHENTICATE leg's request
    CHECK(x.count("\"auth\": \"ntlmv2-connection\"") == 4);      // the others on the authenticated connection
    CHECK_FALSE(contains(x.events(), "violation"));
    CHECK_FALSE(contains(x.events(), "\"method\": \"basic\""));
    const auto metrics = x.metrics();
    CHECK(contains(metrics, x.metric("ward_exchange_requests_total", "") + " 5"));
    CHECK(contains(metrics, x.metric("ward_exchange_auth_total", ",method=\"ntlmv2\"") + " 1"));
    CHECK(contains(metrics, x.metric("ward_exchange_auth_total", ",method=\"basic\"") + " 0"));
    CHECK(x.ward->wait_for_log("connection authenticated with NTLMv2 (" + std::string(scheme == "ntlm" ? "NTLM" : "Negotiate") + ")"));
    // Nothing of the credentials file is logged.
    CHECK_FALSE(contains(x.ward->log(), kPassword));
    CHECK_FALSE(contains(x.ward->log(), kUser));

    // exchange.auth changed to basic-only and reloaded: new upstream connections only, and Basic
    // on them (the seed needs a restart for this; ward does not).
    x.reload_with("basic-only");
    const auto after = x.ask(2);
    CHECK_MESSAGE(answered(after.out, "200") == 2, after.out << after.err << x.describe());
    CHECK(x.count("\"event\": \"connection\"") == 2);
    CHECK(x.count("\"auth\": \"basic\"") == 2);
    CHECK(x.count("\"auth\": \"ntlmv2-connection\"") == 4);  // the pooled NTLM connection was not used again
}

void basic_fallbacks(const std::string& mode) {
    {
        INFO("NTLM not offered: Basic in auto");
        Exchange x(mode, "auto", {"--offer", "basic"});
        const auto r = x.ask(2);
        CHECK_MESSAGE(answered(r.out, "200") == 2, r.out << r.err << x.describe());
        CHECK(x.count("\"auth\": \"basic\"") == 2);
        CHECK(x.count("\"event\": \"negotiate\"") == 0);
        CHECK(x.ward->wait_for_log("NTLMv2 not used (Exchange offers no NTLM); falling back to Basic"));
        CHECK(contains(x.metrics(), x.metric("ward_exchange_auth_total", ",method=\"basic\"") + " 1"));
        CHECK_FALSE(contains(x.events(), "violation"));
    }
    {
        INFO("NTLM refused: Basic in auto");
        Exchange x(mode, "auto", {"--offer", "ntlm", "--ntlm", "refuse"});
        const auto r = x.ask(2);
        CHECK_MESSAGE(answered(r.out, "200") == 2, r.out << r.err << x.describe());
        CHECK(x.count("\"event\": \"refused\"") == 1);  // the AUTHENTICATE verified, and refused
        CHECK(x.count("\"auth\": \"basic\"") == 2);
        CHECK(x.ward->wait_for_log("Exchange refused the NTLMv2 AUTHENTICATE message"));
        const auto metrics = x.metrics();
        CHECK(contains(metrics, x.metric("ward_exchange_auth_failures_total", ",reason=\"ntlm_refused\"") + " 1"));
        CHECK(contains(metrics, x.metric("ward_exchange_auth_total", ",method=\"basic\"") + " 1"));
        CHECK_FALSE(contains(x.events(), "violation"));
    }
    {
        INFO("a CHALLENGE only NTLMv1 could answer: no AUTHENTICATE at all, then Basic");
        Exchange x(mode, "auto", {"--offer", "ntlm", "--ntlm", "v1-only"});
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "200") == 1, r.out << r.err << x.describe());
        CHECK(x.count("\"event\": \"negotiate\"") == 1);
        CHECK(x.count("\"method\": \"ntlmv2\"") == 0);
        CHECK(x.count("\"auth\": \"basic\"") == 1);
        CHECK(x.ward->wait_for_log("cannot be answered with NTLMv2, and NTLMv1 is never used"));
        CHECK(contains(x.metrics(), x.metric("ward_exchange_auth_failures_total", ",reason=\"ntlm_unusable\"") + " 1"));
        CHECK_FALSE(contains(x.events(), "violation"));
    }
    {
        INFO("basic-only with NTLM offered: Basic from the first request, never NTLM");
        Exchange x(mode, "basic-only", {"--offer", "ntlm"});
        const auto r = x.ask(3);
        CHECK_MESSAGE(answered(r.out, "200") == 3, r.out << r.err << x.describe());
        CHECK(x.count("\"auth\": \"basic\"") == 3);
        CHECK(x.count("\"event\": \"negotiate\"") == 0);
        CHECK(x.count("\"event\": \"connection\"") == 1);
        CHECK(x.count("\"event\": \"refused\"") == 0);
    }
    {
        INFO("a server whose certificate does not name the backend: 502 and nothing sent");
        Exchange x(mode, "auto", {"--offer", "ntlm"}, {"other.example"});
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "502") == 1, r.out << r.err << x.describe());
        CHECK(x.count("\"event\": \"connection\"") == 0);
        CHECK(x.count("\"event\": \"request\"") == 0);
        CHECK(contains(x.metrics(), x.metric("ward_exchange_upstream_errors_total", ",reason=\"tls\"") + " 1"));
    }
}

}  // namespace

TEST_CASE("e2e exchange: NTLM offered - NTLMv2 on one connection for many requests - standard mode") {
    ntlm_offered("standard", "ntlm");
}

TEST_CASE("e2e exchange: Negotiate offered - NTLMv2 inside Negotiate - fips mode on the FIPS provider" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    ntlm_offered("fips", "negotiate");
}

TEST_CASE("e2e exchange: NTLM offered - NTLMv2 - fips mode on the FIPS provider" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) { ntlm_offered("fips", "ntlm"); }

TEST_CASE("e2e exchange: Basic when NTLM is absent or refused or v1-only and basic-only and bad certificates - standard mode") {
    basic_fallbacks("standard");
}

TEST_CASE("e2e exchange: Basic when NTLM is absent or refused or v1-only and basic-only and bad certificates - fips mode" *
          doctest::skip(!ward::tls::flavour::kFipsModule)) {
    basic_fallbacks("fips");
}

// (The wolfSSL flavour has MD4 and RC4 in wolfCrypt itself: nothing to be missing.)
TEST_CASE("e2e exchange: without OpenSSL's legacy provider ward check warns that auto will use Basic only" *
          doctest::skip(ward::tls::flavour::kName != "openssl")) {
    Exchange x("standard", "auto", {"--offer", "ntlm"});
    const TempDir no_modules("e2e-no-modules");
    const auto checked = ward::test::run_process(
        {"env", "OPENSSL_MODULES=" + no_modules.path().string(), ward::test::ward_binary(), "check", "-c", x.config.string()},
        30s);
    CHECK_MESSAGE(checked.exit_code == 0, checked.out << checked.err);
    CHECK_MESSAGE(contains(checked.out + checked.err, "warning: listeners[0].exchange.auth: auto will use Basic only: "
                                                      "OpenSSL's legacy provider (MD4, RC4) cannot be loaded"),
                  checked.out << checked.err);
    // With the provider where OpenSSL looks for it, no such warning.
    const auto normal = ward::test::run_process({ward::test::ward_binary(), "check", "-c", x.config.string()}, 30s);
    CHECK(normal.exit_code == 0);
    CHECK_FALSE(contains(normal.out + normal.err, "auto will use Basic only"));
}

TEST_CASE("e2e exchange: a broken or hostile Exchange gets 504 or 502 or Basic - never a hang or a crash") {
    for (const std::string hostile : {"silent", "cut", "garbage"}) {
        INFO(hostile);
        Exchange x("standard", "auto", {"--hostile", hostile}, {"localhost"}, ", request_timeout: 2s");
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, hostile == "silent" ? "504" : "502") == 1, r.out << r.err << x.describe());
        const auto reason = hostile == "silent" ? "timeout" : "protocol";
        CHECK(contains(x.metrics(), x.metric("ward_exchange_upstream_errors_total", ",reason=\"" + std::string(reason) + "\"") + " 1"));
        // ward still serves: the next request gets the same answer, not a dead listener.
        const auto again = x.ask();
        CHECK(answered(again.out, hostile == "silent" ? "504" : "502") == 1);
    }
    {
        INFO("CHALLENGE tokens that are not base64 or not a CHALLENGE: NTLM unusable and Basic");
        Exchange x("standard", "auto", {"--hostile", "bad-challenge"});
        const auto first = x.ask();
        CHECK_MESSAGE(answered(first.out, "200") == 1, first.out << first.err << x.describe());
        const auto second = x.ask();
        CHECK_MESSAGE(answered(second.out, "200") == 1, second.out << second.err << x.describe());
        CHECK(x.count("\"auth\": \"basic\"") == 2);
        CHECK(x.ward->wait_for_log("Exchange sent no NTLM CHALLENGE"));
        // Each new local connection tries NTLMv2 again (a fallback connection is never pooled).
        CHECK(contains(x.metrics(), x.metric("ward_exchange_auth_failures_total", ",reason=\"ntlm_unusable\"") + " 2"));
    }
}

TEST_CASE("e2e exchange: a kept-alive local connection follows a reload - new trust and credentials and mode on a new upstream connection") {
    Exchange x("standard", "auto", {"--offer", "ntlm"});
    KeptAlive client(x.ward->port("ews"));
    const auto before = client.ask("POST", kSoap);
    CHECK_MESSAGE(contains(before, "HTTP/1.1 200"), before << x.describe());
    CHECK(x.count("\"auth\": \"ntlmv2\"") == 1);
    x.reload_with("basic-only", ", max_body_size: 1500");
    // The same local connection: its next request uses the configuration in force now, its
    // limits included (the first request after the reload was read with the old ones).
    const auto large = client.ask("POST", std::string(kSoap) + std::string(2048, ' '));
    CHECK_MESSAGE(contains(large, "HTTP/1.1 413"), large);
    CHECK(x.count("\"event\": \"request\"") == 1);
    KeptAlive second(x.ward->port("ews"));
    second.ask("POST", kSoap);  // a connection kept alive from before the second reload
    x.reload_with("basic-only");
    const auto after = second.ask("POST", kSoap);
    CHECK_MESSAGE(contains(after, "HTTP/1.1 200"), after << x.describe());
    CHECK(x.count("\"auth\": \"basic\"") == 2);
    CHECK(x.count("\"event\": \"connection\"") == 3);  // a new upstream connection per configuration
    CHECK(x.count("\"auth\": \"ntlmv2-connection\"") == 0);
}

TEST_CASE("e2e exchange: a pooled connection asked to authenticate again sends channel bindings for its own server") {
    Exchange x("standard", "auto", {"--offer", "ntlm", "--require-cbt", "--reauth-after", "1"});
    for (int i = 0; i < 3; ++i) {
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "200") == 1, r.out << r.err << x.describe());
    }
    INFO(x.describe());
    CHECK(x.count("\"event\": \"connection\"") == 1);
    CHECK(x.count("\"event\": \"reauth\"") == 1);
    CHECK(x.count("\"event\": \"auth\"") == 2);
    CHECK(x.count("\"cbt\": \"ok\"") == 2);
    CHECK(x.count("\"auth\": \"basic\"") == 0);
}

TEST_CASE("e2e exchange: TRACE and other methods are refused - a NEGOTIATE answered 503 is passed on - no Basic") {
    {
        Exchange x("standard", "basic-only", {"--offer", "basic"});
        KeptAlive client(x.ward->port("ews"));
        for (const std::string method : {"TRACE", "TRACK", "PUT", "DELETE", "OPTIONS"}) {
            const auto r = client.ask(method, "");
            CHECK_MESSAGE(contains(r, "HTTP/1.1 405"), method << ": " << r);
            CHECK(contains(r, "Allow: GET, HEAD, POST"));
        }
        // Other virtual directories, and every spelling IIS would resolve into one.
        for (const std::string path : {"/PowerShell/", "/owa/", "/ecp/", "/EWSX/", "/EWS/", "/EWS/../PowerShell/",
                                       "/EWS/%2e%2e/ecp/", "/Autodiscover/..\\owa\\", "/EWS/./../ecp/",
                                       "/EWS%2f..%2fowa/", "/EWS/Exchange.asmx?x=@evil/owa", "/EWS//Exchange.asmx"}) {
            KeptAlive raw(x.ward->port("ews"));
            const auto answer = raw.ask("GET", "", path);
            CHECK_MESSAGE((contains(answer, "HTTP/1.1 404") || contains(answer, "HTTP/1.1 400")), path << ": " << answer);
        }
        CHECK(x.count("\"event\": \"connection\"") == 0);  // nothing reached Exchange
    }
    {
        Exchange x("standard", "auto", {"--offer", "ntlm", "--ntlm", "negotiate-503"});
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "503") == 1, r.out << r.err << x.describe());
        CHECK(x.count("\"auth\": \"basic\"") == 0);
        CHECK(x.count("\"event\": \"request\"") == 0);
    }
    {
        INFO("101 from Exchange is a protocol error");
        Exchange x("standard", "auto", {"--hostile", "101"});
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "502") == 1, r.out << r.err << x.describe());
    }
}

TEST_CASE("e2e exchange: after Exchange refused NTLMv2 and Basic ward answers itself instead of locking the account out") {
    // Exchange knows another password than ward's credentials file.
    Exchange x("standard", "auto", {"--offer", "ntlm", "--password", "the new password"});
    const auto first = x.ask();
    CHECK_MESSAGE(answered(first.out, "401") == 1, first.out << first.err << x.describe());
    CHECK(x.count("\"event\": \"refused\"") == 2);  // NTLMv2, then Basic
    const auto second = x.ask(3);
    CHECK(answered(second.out, "502") == 3);  // ward's own answers (each closes; curl reconnects)
    CHECK(x.count("\"event\": \"refused\"") == 2);  // no further logon attempt
    CHECK(x.ward->wait_for_log("rather than lock the account out"));
    // A reload (the password fixed in the credentials file) lifts the hold at once.
    x.reload_with("auto");
    const auto third = x.ask();
    CHECK(answered(third.out, "401") == 1);
    CHECK(x.count("\"event\": \"refused\"") == 4);
}

TEST_CASE("e2e exchange: Basic refused in basic-only is tried once - an unasked answer behind the real one is never served") {
    {
        Exchange x("standard", "basic-only", {"--offer", "basic", "--password", "the new password"});
        for (int i = 0; i < 3; ++i) {
            const auto r = x.ask();
            CHECK_MESSAGE(answered(r.out, i == 0 ? "401" : "502") == 1, i << ": " << r.out << r.err << x.describe());
        }
        CHECK(x.count("\"event\": \"refused\"") == 1);
    }
    {
        Exchange x("standard", "basic-only", {"--offer", "basic", "--hostile", "extra-record"});
        for (int i = 0; i < 3; ++i) {
            const auto r = x.ask();
            CHECK_MESSAGE(answered(r.out, "200") == 1, r.out << r.err << x.describe());
            CHECK(contains(r.out, "GetUserAvailabilityResponse"));
            CHECK_FALSE(contains(r.out, "INJECTED"));
        }
        // Each connection had bytes left after its answer: none was kept.
        CHECK(x.count("\"event\": \"connection\"") == 3);
    }
}

TEST_CASE("e2e exchange: no Basic where Exchange offers none - the 401 is passed on and nothing is held") {
    Exchange x("standard", "auto", {"--offer", "negotiate", "--ntlm", "refuse", "--no-basic"});
    for (int i = 0; i < 2; ++i) {
        const auto r = x.ask();
        CHECK_MESSAGE(answered(r.out, "401") == 1, i << ": " << r.out << r.err << x.describe());
    }
    CHECK(x.count("\"method\": \"ntlmv2\"") == 2);  // NTLMv2 tried (and refused) by each session
    CHECK_FALSE(contains(x.events(), "violation"));  // never Basic
    CHECK(x.ward->wait_for_log("and Exchange offers no Basic"));
}
