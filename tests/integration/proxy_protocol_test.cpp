// SPDX-License-Identifier: Apache-2.0
// The PROXY protocol version 2, both ways: the header's encoding and parsing (every split
// point, every refusal), the header ward writes to a backend with the client's TLS details,
// and the header ward reads from a load balancer it trusts, and only from one.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/net_test_support.hpp"
#include "../support/running_ward.hpp"
#include "../support/tls_test_support.hpp"
#include "proxy/engine/proxy_header.hpp"

using namespace ward;
using namespace ward::test;
namespace fs = std::filesystem;
namespace pp = ward::proxy::proxy_v2;

namespace {

pp::Address v4(const char* text, std::uint16_t port) {
    pp::Address a;
    a.family = pp::Address::Family::inet;
    REQUIRE(inet_pton(AF_INET, text, a.bytes.data()) == 1);
    a.port = port;
    return a;
}

pp::Address v6(const char* text, std::uint16_t port) {
    pp::Address a;
    a.family = pp::Address::Family::inet6;
    REQUIRE(inet_pton(AF_INET6, text, a.bytes.data()) == 1);
    a.port = port;
    return a;
}

pp::Header full_header() {
    pp::Header h;
    h.source = v4("203.0.113.7", 40001);
    h.destination = v4("198.51.100.1", 5222);
    h.alpn = "xmpp-client";
    h.authority = "chat.example";
    h.tls.present = true;
    h.tls.cert_conn = h.tls.cert_sess = true;
    h.tls.verify = 0;
    h.tls.version = "TLSv1.3";
    h.tls.cipher = "TLS_AES_256_GCM_SHA384";
    h.tls.common_name = "client.test";
    return h;
}

std::string with_byte(std::string s, std::size_t at, char value) {
    s[at] = value;
    return s;
}

std::uint16_t listening_port(const RunningWard& ward) { return ward.port("edge"); }

struct Setup {
    TempDir dir{"proxy-protocol"};
    TestPki pki{dir.path()};
    CertFiles client = pki.issue("client", TestPki::client_spec("client.test"));

    fs::path write(const std::string& listener_extra, const std::string& backend) const {
        const auto file = dir.path() / "ward.yaml";
        write_text_file(file,
                        "certificates: { server: { cert: server.pem, key: server.key } }\n"
                        "trust_stores: { trust: { dir: trust } }\n"
                        "tls_peer_subjects:\n  - { subject: client.test }\n"
                        "tls_contexts:\n  in: { certificate: server, trust_store: trust, peer_subjects: [client.test],"
                        " verify_peer: optional }\n"
                        "metrics: { bind: '127.0.0.1:0' }\n"
                        "listeners:\n"
                        "  - { name: edge, protocol: tls, bind: '127.0.0.1:0', backends: ['" +
                            backend + "'], tls_context: in" + listener_extra + " }\n");
        return file;
    }

    tls::UniqueSslCtx client_ctx(bool with_cert = true) const {
        PeerOptions o;
        if (with_cert) {
            o.cert = client.cert;
            o.key = client.key;
        }
        o.trust_ca = pki.ca().cert;
        return make_peer_ctx(o);
    }
};

// The header at the start of what a backend received, and what followed it.
std::pair<pp::Parsed, std::string> split_header(const std::string& received) {
    auto parsed = pp::parse(received);
    std::string rest;
    if (parsed.status == pp::Parsed::Status::done) rest = received.substr(parsed.length);
    return {parsed, rest};
}

std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

std::uint64_t refused_count(std::uint16_t metrics_port) {
    const std::string series = "ward_proxy_headers_refused_total{listener=\"edge\",protocol=\"tls\"} ";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const auto text = fetch_metrics(metrics_port);
        const auto at = text.find(series);
        const std::uint64_t n = at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size()));
        if (n > 0 || std::chrono::steady_clock::now() >= until) return n;
        std::this_thread::yield();
    }
}

}  // namespace

TEST_CASE("proxy header: encode and parse agree - at every split point") {
    pp::Header local;
    local.local = true;
    for (const auto& h : {full_header(), local}) {
        const auto bytes = pp::encode(h);
        CHECK(bytes.substr(0, 12) == pp::kSignature);
        for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
            const auto p = pp::parse(bytes.substr(0, cut));
            REQUIRE(p.status == pp::Parsed::Status::need_more);
            CHECK(p.length == (cut < 16 ? 16 : bytes.size()));
        }
        const auto p = pp::parse(bytes + "\x16\x03\x01 what follows");
        REQUIRE(p.status == pp::Parsed::Status::done);
        CHECK(p.length == bytes.size());
        CHECK(p.header == h);
    }
    // IPv6 both ends; an IPv4 source with an IPv6 destination goes as IPv6 (mapped).
    pp::Header h6;
    h6.source = v6("2001:db8::7", 1);
    h6.destination = v6("2001:db8::1", 443);
    auto p6 = pp::parse(pp::encode(h6));
    REQUIRE(p6.status == pp::Parsed::Status::done);
    CHECK(p6.header == h6);
    pp::Header mixed;
    mixed.source = v4("192.0.2.1", 2);
    mixed.destination = v6("2001:db8::1", 443);
    auto pm = pp::parse(pp::encode(mixed));
    REQUIRE(pm.status == pp::Parsed::Status::done);
    CHECK(pm.header.source == v6("::ffff:192.0.2.1", 2));
}

TEST_CASE("proxy header: a value too long for its TLV is left out - never wraps a length") {
    auto h = full_header();
    // A name whose 16-bit length would wrap, with what would read as TLVs of its own inside.
    h.tls.common_name = std::string(10, 'x') + std::string("\x22\x00\x05" "admin", 8) + std::string(65536, 'p');
    h.authority = std::string(300, 'a');
    const auto bytes = pp::encode(h);
    const auto p = pp::parse(bytes, 16 + 65535);
    REQUIRE(p.status == pp::Parsed::Status::done);
    CHECK(p.length == bytes.size());
    CHECK(p.header.tls.common_name.empty());
    CHECK(p.header.authority.empty());
    CHECK(p.header.tls.version == "TLSv1.3");
    CHECK(bytes.size() < 200);
}

TEST_CASE("proxy header: the bytes of a known header - as the specification lays them out") {
    pp::Header h;
    h.source = v4("127.0.0.1", 1);
    h.destination = v4("127.0.0.2", 2);
    const auto b = pp::encode(h);
    // signature, PROXY, TCP over IPv4, length 12 + 7 (the CRC32C TLV), addresses, ports, CRC TLV.
    const std::string head = std::string(pp::kSignature) + std::string("\x21\x11\x00\x13", 4) +
                             std::string("\x7f\x00\x00\x01\x7f\x00\x00\x02\x00\x01\x00\x02", 12) +
                             std::string("\x03\x00\x04", 3);
    REQUIRE(b.size() == head.size() + 4);
    CHECK(b.substr(0, head.size()) == head);
    // CRC-32C's check value (RFC 3720 appendix B.4: 32 bytes of zeros).
    CHECK(pp::crc32c(std::string(32, '\0')) == 0x8a9136aa);
}

TEST_CASE("proxy header: refusals name what is wrong") {
    const auto good = pp::encode(full_header());
    auto why = [](const std::string& bytes) {
        const auto p = pp::parse(bytes);
        return p.status == pp::Parsed::Status::invalid ? p.error : std::string("(accepted)");
    };
    CHECK(why("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n") == "a PROXY protocol version 1 header (only version 2 is accepted)");
    CHECK(why(std::string("\x16\x03\x01\x02\x00", 5)) == "no PROXY protocol version 2 header");
    CHECK(why(good.substr(0, 5) + "X") == "no PROXY protocol version 2 header");
    CHECK(why(with_byte(good, 12, '\x11')) == "PROXY protocol version 1, not 2");
    CHECK(why(with_byte(good, 12, '\x22')) == "unknown PROXY command 2");
    CHECK(why(with_byte(good, 13, '\x41')) == "unknown PROXY address family 4");
    CHECK(why(with_byte(good, 13, '\x12')) == "a datagram (UDP) PROXY header on a stream");
    CHECK(why(with_byte(good, 20, '\x01')) == "PROXY header CRC32C does not match");  // an address byte
    // TLVs that overrun: the length of the first TLV (after the 12 address bytes) made huge.
    CHECK(why(with_byte(good, 16 + 12 + 1, '\x7f')) == "PROXY TLV overruns the header");
    // Longer than ward reads.
    std::string big = std::string(pp::kSignature) + std::string("\x21\x11\x10\x00", 4);
    CHECK(why(big) == "PROXY header of 4112 bytes (at most 4096)");
    // An address block shorter than IPv6 needs.
    std::string short6 = std::string(pp::kSignature) + std::string("\x21\x21\x00\x0c", 4) + std::string(12, '\0');
    CHECK(why(short6) == "PROXY address block shorter than its family needs");
    // A PROXY command must name a TCP client: UNSPEC, UNIX and unknown transports are refused
    // (the balancer's own address would otherwise stand for the client's).
    const std::string unspec = std::string(pp::kSignature) + std::string("\x21\x00\x00\x00", 4);
    CHECK(why(unspec) == "a PROXY command that does not name a TCP client (family 0, transport 0)");
    CHECK(why(with_byte(good, 13, '\x13')) == "a PROXY command that does not name a TCP client (family 1, transport 3)");
    CHECK(why(with_byte(good, 13, '\x10')) == "a PROXY command that does not name a TCP client (family 1, transport 0)");
    std::string unix_block = std::string(pp::kSignature) + std::string("\x21\x31\x00\xd8", 4) + std::string(216, '\0');
    CHECK(why(unix_block) == "a PROXY command that does not name a TCP client (family 3, transport 1)");
    // LOCAL (a health check), UNSPEC: valid, no address.
    std::string local = std::string(pp::kSignature) + std::string("\x20\x00\x00\x00", 4);
    auto p = pp::parse(local);
    REQUIRE(p.status == pp::Parsed::Status::done);
    CHECK(p.header.local);
    CHECK(p.header.source.family == pp::Address::Family::unspec);
}

TEST_CASE("proxy protocol: a backend gets the client's address and TLS details first - then the client's bytes") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(", proxy_protocol: v2", backend.endpoint()));
    auto ctx = s.client_ctx();
    TlsClient client(listening_port(ward), ctx.get(), "server.test");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("hello"));
    REQUIRE(backend.wait_until([&] { return backend.received().find("hello") != std::string::npos; }));
    auto [parsed, rest] = split_header(backend.received());
    REQUIRE_MESSAGE(parsed.status == pp::Parsed::Status::done, parsed.error);
    CHECK(rest == "hello");
    const auto& h = parsed.header;
    CHECK_FALSE(h.local);
    CHECK(h.source == v4("127.0.0.1", local_port(client.fd())));
    CHECK(h.destination == v4("127.0.0.1", listening_port(ward)));
    CHECK(h.authority == "server.test");
    CHECK(h.tls.present);
    CHECK(h.tls.cert_conn);
    CHECK(h.tls.cert_sess);
    CHECK(h.tls.verify == 0);
    CHECK(h.tls.version == SSL_get_version(client.ssl()));
    CHECK(h.tls.cipher == SSL_get_cipher_name(client.ssl()));
    CHECK(h.tls.common_name == "client.test");

    // Without a client certificate (verify_peer: optional): no name, verify not 0.
    auto bare = s.client_ctx(false);
    TlsClient anonymous(listening_port(ward), bare.get(), "server.test");
    REQUIRE_MESSAGE(anonymous.ok(), anonymous.error());
    REQUIRE(anonymous.send("anon"));
    REQUIRE(backend.wait_until([&] { return backend.received().find("anon") != std::string::npos; }));
    const auto second = backend.received().substr(backend.received().find("hello") + 5);
    auto [p2, rest2] = split_header(second);
    REQUIRE(p2.status == pp::Parsed::Status::done);
    CHECK(rest2 == "anon");
    CHECK(p2.header.tls.present);
    CHECK_FALSE(p2.header.tls.cert_conn);
    CHECK(p2.header.tls.verify != 0);
    CHECK(p2.header.tls.common_name.empty());
}

TEST_CASE("proxy protocol: a trusted load balancer's header names the client - onward to the backend") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(
        s.write(", proxy_protocol: v2, accept_proxy_protocol: ['10.0.0.0/8', '127.0.0.0/8']", backend.endpoint()));
    auto ctx = s.client_ctx();
    pp::Header lb;
    lb.source = v4("203.0.113.7", 40001);
    lb.destination = v4("198.51.100.1", 443);
    // The header and the ClientHello in one segment: ward must read the header only.
    const int fd = connect_tcp(listening_port(ward));
    REQUIRE(fd >= 0);
    REQUIRE(send_raw(fd, pp::encode(lb)));
    TlsClient client(fd, ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("via lb"));
    REQUIRE(backend.wait_until([&] { return backend.received().find("via lb") != std::string::npos; }));
    auto [parsed, rest] = split_header(backend.received());
    REQUIRE(parsed.status == pp::Parsed::Status::done);
    CHECK(rest == "via lb");
    CHECK(parsed.header.source == lb.source);
    CHECK(parsed.header.destination == lb.destination);
    CHECK(parsed.header.tls.common_name == "client.test");
}

TEST_CASE("proxy protocol: LOCAL from a trusted balancer keeps the connection's own addresses") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(", proxy_protocol: v2, accept_proxy_protocol: ['127.0.0.1']", backend.endpoint()));
    auto ctx = s.client_ctx();
    const int fd = connect_tcp(listening_port(ward));
    REQUIRE(fd >= 0);
    pp::Header local;
    local.local = true;
    REQUIRE(send_raw(fd, pp::encode(local)));
    TlsClient client(fd, ctx.get(), "server.test", "");
    REQUIRE_MESSAGE(client.ok(), client.error());
    REQUIRE(client.send("x"));
    REQUIRE(backend.wait_until([&] { return !backend.received().empty() && backend.received().back() == 'x'; }));
    auto [parsed, rest] = split_header(backend.received());
    REQUIRE(parsed.status == pp::Parsed::Status::done);
    CHECK(parsed.header.source == v4("127.0.0.1", local_port(client.fd())));
}

TEST_CASE("proxy protocol: a trusted source without a valid header is closed - the backend sees nothing") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(", accept_proxy_protocol: ['127.0.0.1'], limits: { handshake_timeout: 400ms }",
                             backend.endpoint()));
    auto ctx = s.client_ctx();
    SUBCASE("a ClientHello straight away") {
        TlsClient client(listening_port(ward), ctx.get(), "server.test", std::chrono::seconds(5));
        CHECK_FALSE(client.ok());
    }
    SUBCASE("a version 1 header") {
        const int fd = connect_tcp(listening_port(ward));
        REQUIRE(send_raw(fd, "PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\n"));
        CHECK(wait_closed(fd, std::chrono::seconds(5)));
        ::close(fd);
    }
    SUBCASE("half a header, then nothing: cut at handshake_timeout") {
        const int fd = connect_tcp(listening_port(ward));
        const auto header = pp::encode(full_header());
        REQUIRE(send_raw(fd, header.substr(0, header.size() / 2)));
        const auto begin = std::chrono::steady_clock::now();
        CHECK(wait_closed(fd, std::chrono::seconds(10)));
        CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds(5));
        ::close(fd);
    }
    CHECK(refused_count(ward.metrics_port()) == 1);
    CHECK(backend.connections() == 0);
}

TEST_CASE("proxy protocol: a source that is not trusted cannot name another client") {
    Setup s;
    TcpBackend backend(TcpBackend::Mode::capture);
    RunningWard ward(s.write(", proxy_protocol: v2, accept_proxy_protocol: ['10.0.0.0/8']", backend.endpoint()));
    auto ctx = s.client_ctx();
    // A header from 127.0.0.1 is taken as the start of TLS: the handshake fails.
    const int fd = connect_tcp(listening_port(ward));
    REQUIRE(fd >= 0);
    pp::Header forged;
    forged.source = v4("10.1.2.3", 1);
    forged.destination = v4("10.1.2.4", 2);
    REQUIRE(send_raw(fd, pp::encode(forged)));
    TlsClient refused(fd, ctx.get(), "server.test", "", std::chrono::seconds(5));
    CHECK_FALSE(refused.ok());
    // Direct clients from there still connect, under their own address.
    TlsClient direct(listening_port(ward), ctx.get(), "server.test");
    REQUIRE_MESSAGE(direct.ok(), direct.error());
    REQUIRE(direct.send("direct"));
    REQUIRE(backend.wait_until([&] { return backend.received().find("direct") != std::string::npos; }));
    auto [parsed, rest] = split_header(backend.received());
    REQUIRE(parsed.status == pp::Parsed::Status::done);
    CHECK(parsed.header.source == v4("127.0.0.1", local_port(direct.fd())));
    CHECK(backend.connections() == 1);
}
