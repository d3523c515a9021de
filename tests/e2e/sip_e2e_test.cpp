// SPDX-License-Identifier: Apache-2.0
// SIP over TLS through the real ward binary with real, independent SIP software: sipp (Debian's
// sip-tester, built without TLS) places calls over TCP into a stunnel4 client that holds the
// peer's certificate; ward terminates TLS on a `sip` listener, checks the peer subject and relays
// to a sipp UAS over TCP, whose message log shows what the backend received.
//
//   sipp uac (TCP) -> stunnel4 (client certificate) -> ward `sip` listener -> sipp uas (TCP)
//
// The scenarios are sipp's own (`-sn uac`, and the `-sd uas` dump without its timewait, see
// uas_scenario); the forging UAC is the built-in uac scenario plus forged identity headers.
#include <doctest/doctest.h>

#include <memory>
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
using ward::e2e::lines_starting_with;
using ward::test::BackgroundProcess;
using ward::test::CertFiles;
using ward::test::ProcessResult;
using ward::test::TempDir;
using ward::test::TestPki;
using ward::test::WardProcess;
using ward::e2e::StunnelClient;

constexpr const char* kAllowed = "peer-allowed.test";
constexpr const char* kOther = "peer-other.test";  // a known subject, not selected in the context

// Every start that depends on a reserved port is tried this often (see reserve_port).
constexpr int kPortAttempts = 3;

struct Setup {
    TempDir dir{"e2e-sip"};
    TestPki pki{dir.path() / "pki"};
    fs::path path(const std::string& name) const { return dir.path() / name; }
};

// ward with one `sip` listener, "sip-in", whose context "sip-peers" requires a certificate with
// the allowed CN; the other subject is known to the configuration but not selected.
fs::path write_ward_config(const Setup& s, std::uint16_t backend_port) {
    std::string yaml = ward::e2e::pki_sections({kAllowed, kOther});
    yaml += "tls_contexts:\n"
            "  sip-peers:\n"
            "    certificate: server\n"
            "    trust_store: peers\n"
            "    peer_subjects: [" + std::string(kAllowed) + "]\n"
            "    verify_peer: required\n";
    yaml += "listeners:\n"
            "  - name: sip-in\n"
            "    protocol: sip\n"
            "    bind: 127.0.0.1:0\n"
            "    backends: [127.0.0.1:" + std::to_string(backend_port) + "]\n"
            "    tls_context: sip-peers\n";
    yaml += "limits: { handshake_timeout: 2s }\n"
            "metrics: { enabled: false }\n";
    return ward::e2e::write_config(s.dir.path(), yaml);
}

// sipp's built-in UAS scenario (`sipp -sd uas`) without its final <timewait milliseconds="4000"/>.
// The UAS keeps a finished call in timewait for 4 s to answer a retransmitted BYE; when the TCP
// connection closes in that time (the UAC exits after its call), sipp counts the call as failed
// and a `-m 1` UAS exits with status 1, even when the UAC talks to it directly. Without the
// timewait the call ends at the 200 for the BYE, and the exit status means "the call worked".
fs::path uas_scenario(const Setup& s) {
    const auto dump = ward::test::run_process({"sipp", "-sd", "uas"}, 10s);
    // (sipp exits with status 99 after -sd.)
    REQUIRE_MESSAGE(contains(dump.out, "<scenario name=\"Basic UAS responder\">"), dump.out << dump.err);
    const std::regex timewait(R"(<timewait[^>]*/>)");
    REQUIRE(std::regex_search(dump.out, timewait));
    const auto file = s.path("uas.xml");
    ward::test::write_text_file(file, std::regex_replace(dump.out, timewait, ""));
    return file;
}

// sipp's UAS on TCP for one call, logging every message it sends and receives.
class SippUas {
public:
    explicit SippUas(const Setup& s) : messages_(s.path("uas-messages.log")) {
        const auto scenario = uas_scenario(s);
        for (int attempt = 0; attempt < kPortAttempts && !process_; ++attempt) {
            port_ = ward::test::reserve_port();
            REQUIRE(port_ != 0);
            auto p = std::make_unique<BackgroundProcess>(std::vector<std::string>{
                "sipp", "-sf", scenario.string(), "-t", "t1", "-i", "127.0.0.1", "-p", std::to_string(port_), "-m",
                "1", "-nostdin", "-timeout", "20s", "-trace_msg", "-message_file", messages_.string()});
            REQUIRE_MESSAGE(p->started(), p->describe());
            // sipp prints no "listening" line: wait for the port (the probe is an empty TCP
            // connection, which sipp ignores), then make sure it is still sipp that holds it.
            if (ward::test::wait_for_port(port_, 10s) && !p->exited() &&
                !contains(p->err(), "Unable to bind main socket")) {
                process_ = std::move(p);
            } else {
                p->wait_exit(5s);
                MESSAGE("sipp UAS could not listen on a reserved port; trying another:\n" << p->describe());
            }
        }
        REQUIRE_MESSAGE(process_ != nullptr, "the sipp UAS did not start");
    }

    std::uint16_t port() const { return port_; }
    BackgroundProcess& process() { return *process_; }
    std::string messages() const { return ward::test::read_text_file(messages_); }

private:
    fs::path messages_;
    std::uint16_t port_ = 0;
    std::unique_ptr<BackgroundProcess> process_;
};

// One call from sipp's UAC (or `scenario`, a scenario file) to 127.0.0.1:target over TCP. sipp
// binds its local port (-p) before anything else; when another process took the reserved port
// first, it says so and exits, and the call is tried again from another port.
ProcessResult sipp_uac(std::uint16_t target, const std::string& timeout, const fs::path& scenario = {}) {
    ProcessResult result;
    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
        std::vector<std::string> argv{"sipp"};
        if (scenario.empty()) {
            argv.insert(argv.end(), {"-sn", "uac"});
        } else {
            argv.insert(argv.end(), {"-sf", scenario.string()});
        }
        argv.insert(argv.end(), {"-t", "t1", "-i", "127.0.0.1", "-p", std::to_string(ward::test::reserve_port()),
                                 "127.0.0.1:" + std::to_string(target), "-m", "1", "-nostdin", "-timeout", timeout});
        result = ward::test::run_process(argv, 30s);
        if (!contains(result.err, "Unable to bind main socket")) break;
    }
    return result;
}

// The messages sipp logged as received (-trace_msg), each from its start-line on. Entries look
// like "-----...- DATE\nTCP message received [N] bytes :\n\n<message>\n".
std::vector<std::string> received_messages(const std::string& log) {
    std::vector<std::string> out;
    const std::string separator = "-----------------------------------------------";
    std::size_t at = log.find(separator);
    while (at != std::string::npos) {
        const auto next = log.find(separator, at + separator.size());
        const auto entry = log.substr(at, next == std::string::npos ? std::string::npos : next - at);
        const auto body = entry.find("\n\n");
        if (contains(entry, "message received") && body != std::string::npos) out.push_back(entry.substr(body + 2));
        at = next;
    }
    return out;
}

// The header block of a SIP message (up to the empty line).
std::string head_of(const std::string& message) { return message.substr(0, message.find("\r\n\r\n")); }

// The received requests whose start-line begins with `method`.
std::vector<std::string> requests(const std::vector<std::string>& messages, const std::string& method) {
    std::vector<std::string> out;
    for (const auto& m : messages)
        if (m.rfind(method + " ", 0) == 0) out.push_back(m);
    return out;
}

// sipp's built-in UAC scenario (as `sipp -sd uac` prints it) with a forged identity header in
// two spellings in the INVITE, and one more in the BYE.
const char* const kForgingUac = R"(<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAC forging the ward identity header">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      X-Ward-TLS-Peer: admin.evil
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      x-ward-tls-peer: root
      Max-Forwards: 70
      Subject: Performance Test
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>

  <recv response="100" optional="true">
  </recv>

  <recv response="180" optional="true">
  </recv>

  <recv response="183" optional="true">
  </recv>

  <recv response="200" rtd="true">
  </recv>

  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: Performance Test
      Content-Length: 0

    ]]>
  </send>

  <pause/>

  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      X-WARD-TLS-PEER: peer-allowed.test;listener=forged;context=forged
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: Performance Test
      Content-Length: 0

    ]]>
  </send>

  <recv response="200" crlf="true">
  </recv>

</scenario>
)";

const std::string kIdentity = std::string("X-Ward-TLS-Peer: ") + kAllowed + ";listener=sip-in;context=sip-peers";

// A whole call through stunnel and ward; returns what the UAS received.
std::vector<std::string> call_through_ward(Setup& s, const fs::path& scenario = {}) {
    SippUas uas(s);
    WardProcess ward(write_ward_config(s, uas.port()));
    INFO("ward log:\n" << ward.log());
    const auto allowed = s.pki.issue("allowed", TestPki::client_spec(kAllowed));
    StunnelClient stunnel(s.dir.path(), s.pki, ward.port("sip-in"), &allowed);
    INFO("stunnel log:\n" << stunnel.log());

    const auto uac = sipp_uac(stunnel.port(), "20s", scenario);
    INFO("sipp UAC:\n" << uac.out << uac.err);
    CHECK(uac.exit_code == 0);
    // The UAS ends after its one call.
    const auto uas_status = uas.process().wait_exit(20s);
    INFO("sipp UAS:\n" << uas.process().describe());
    CHECK(uas_status == 0);
    // ward logs the session when the connection ends; stunnel closes it when sipp exits.
    CHECK(ward.wait_for_log("peer_subject=" + std::string(kAllowed)));
    CHECK(contains(stunnel.log(), "Certificate accepted at depth=0: O=ward, CN=server.test"));
    return received_messages(uas.messages());
}

// A peer that ward must refuse in the handshake: stunnel presents `cert` (or none) and sipp
// tries one call; the backend (a plain TCP capture in place of the UAS) must see nothing.
void expect_refused(Setup& s, const CertFiles* cert, const std::string& ward_reason, const std::string& stunnel_says) {
    ward::test::TcpBackend backend(ward::test::TcpBackend::Mode::capture);
    WardProcess ward(write_ward_config(s, backend.port()));
    INFO("ward log:\n" << ward.log());
    StunnelClient stunnel(s.dir.path(), s.pki, ward.port("sip-in"), cert);
    INFO("stunnel log:\n" << stunnel.log());

    const auto started = std::chrono::steady_clock::now();
    const auto uac = sipp_uac(stunnel.port(), "5s");
    INFO("sipp UAC:\n" << uac.out << uac.err);
    CHECK(uac.exit_code != 0);
    CHECK(!uac.timed_out);
    CHECK(std::chrono::steady_clock::now() - started < 10s);

    CHECK(ward.wait_for_log("refused in handshake: " + ward_reason));
    CHECK(stunnel.process().wait_for_output(stunnel_says, 5s));
    CHECK(!contains(ward.log(), "phase=relay"));
    // Zero bytes and not even a connection reached the backend.
    CHECK(backend.connections() == 0);
    CHECK(backend.received().empty());
}

}  // namespace

TEST_CASE("sip e2e: sipp calls through stunnel and ward to a sipp UAS and the INVITE carries the verified identity") {
    Setup s;
    const auto messages = call_through_ward(s);
    const auto invites = requests(messages, "INVITE");
    REQUIRE(invites.size() == 1);
    const auto head = head_of(invites[0]);
    INFO("INVITE as the UAS received it:\n" << head);
    const auto identity = lines_starting_with(head, "X-Ward-TLS-Peer:");
    REQUIRE(identity.size() == 1);
    CHECK(identity[0] == kIdentity);
    // The call completed in the UAS too: it answered the INVITE and received ACK and BYE.
    CHECK(requests(messages, "ACK").size() == 1);
    CHECK(requests(messages, "BYE").size() == 1);
}

TEST_CASE("sip e2e: forged identity headers from the peer are removed and the UAS sees exactly one verified copy") {
    Setup s;
    const auto scenario = s.path("uac-forging.xml");
    ward::test::write_text_file(scenario, kForgingUac);
    const auto messages = call_through_ward(s, scenario);
    const auto invites = requests(messages, "INVITE");
    REQUIRE(invites.size() == 1);
    {
        const auto head = head_of(invites[0]);
        INFO("INVITE as the UAS received it:\n" << head);
        const auto identity = lines_starting_with(head, "x-ward-tls-peer:");
        REQUIRE(identity.size() == 1);
        CHECK(identity[0] == kIdentity);
        CHECK(!contains(head, "admin.evil"));
        CHECK(!contains(head, ": root"));
        // Everything else the UAC wrote is still there, in order.
        CHECK(head.find("To: service") < head.find("Call-ID: "));
        CHECK(head.find("Contact: sip:sipp@") < head.find("Max-Forwards: 70"));
    }
    // Every request from the peer gets the same treatment: the BYE's forged copy, which claims
    // the right CN with another listener and context, is replaced too.
    for (const auto& method : {"ACK", "BYE"}) {
        const auto list = requests(messages, method);
        REQUIRE(list.size() == 1);
        const auto head = head_of(list[0]);
        INFO(method << " as the UAS received it:\n" << head);
        const auto identity = lines_starting_with(head, "x-ward-tls-peer:");
        REQUIRE(identity.size() == 1);
        CHECK(identity[0] == kIdentity);
    }
}

TEST_CASE("sip e2e: a trusted certificate with an unselected CN is refused in the handshake - nothing reaches the backend") {
    Setup s;
    const auto other = s.pki.issue("other", TestPki::client_spec(kOther));
    expect_refused(s, &other, "peer subject '" + std::string(kOther) + "' is not selected in this TLS context",
                   std::string("alert ") + ward::test::kLibrary.refused_by_verifier_alert);
}

TEST_CASE("sip e2e: a certificate from an unknown CA is refused in the handshake - nothing reaches the backend") {
    Setup s;
    const auto stranger = s.pki.issue("stranger", TestPki::client_spec(kAllowed), ward::test::Signer::untrusted_ca);
    expect_refused(s, &stranger,
                   "certificate verification failed: unable to get local issuer certificate (depth 0, "
                   "/O=ward/CN=peer-allowed.test)",
                   "alert unknown ca");
}

TEST_CASE("sip e2e: an expired certificate is refused in the handshake - nothing reaches the backend") {
    Setup s;
    auto spec = TestPki::client_spec(kAllowed);
    spec.not_before = -std::chrono::hours(48);
    spec.not_after = -std::chrono::hours(24);
    const auto expired = s.pki.issue("expired", spec);
    expect_refused(s, &expired,
                   "certificate verification failed: certificate has expired (depth 0, /O=ward/CN=peer-allowed.test)",
                   "alert certificate expired");
}

TEST_CASE("sip e2e: a peer without a certificate is refused in the handshake - nothing reaches the backend") {
    Setup s;
    expect_refused(s, nullptr,
                   "the peer presented no certificate, and this TLS context requires one (verify_peer: required)",
                   "alert certificate required");
}
