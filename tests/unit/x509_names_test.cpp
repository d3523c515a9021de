// SPDX-License-Identifier: Apache-2.0
// The names ward reads from certificates (tls/x509.hpp), from certificates written byte by byte
// with the string types and malformations no well-behaved CA writes: both TLS flavours must read
// them alike, since peer subjects and XMPP identities are matched on them.
#include <doctest/doctest.h>
#include <openssl/err.h>

#include <string>
#include <vector>

#include "proxy/ops/pki.hpp"
#include "tls/der.hpp"
#include "tls/x509.hpp"
#include "xmpp/identity.hpp"

namespace {

using namespace ward;

der::Bytes attribute(unsigned char string_tag, std::string_view value) {
    return der::tlv(der::tag::set,
                    der::sequence(der::known_oid("2.5.4.3") + der::tlv(string_tag, value)));
}

der::Bytes other_name(std::string_view oid, unsigned char string_tag, std::string_view value) {
    return der::tlv(der::tag::context_constructed(0),
                    der::known_oid(oid) + der::tlv(der::tag::context_constructed(0), der::tlv(string_tag, value)));
}

der::Bytes san(std::string_view names) {
    return der::sequence(der::known_oid("2.5.29.17") + der::tlv(der::tag::octet_string, der::sequence(names)));
}

// A certificate with this subject and these extensions, parsed by the library (never verified:
// the signature is not one); nullptr when the library refuses to parse it.
tls::UniqueX509 parsed(const der::Bytes& subject_rdns, const der::Bytes& extensions = {}) {
    auto key = ops::generate_key({});
    REQUIRE(key.ok());
    const int size = i2d_PUBKEY(key->get(), nullptr);
    REQUIRE(size > 0);
    std::string spki(static_cast<std::size_t>(size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(spki.data());
    REQUIRE(i2d_PUBKEY(key->get(), &out) == size);
    const der::Bytes algorithm = der::sequence(der::known_oid("1.2.840.10045.4.3.2"));
    const auto now = std::chrono::system_clock::now();
    der::Bytes tbs = der::tlv(der::tag::context_constructed(0), der::integer(2)) + der::integer(7) + algorithm +
                     der::sequence(attribute(der::tag::utf8_string, "issuer")) +
                     der::sequence(der::time(now - std::chrono::hours(1)) + der::time(now + std::chrono::hours(1))) +
                     der::sequence(subject_rdns) + spki;
    if (!extensions.empty()) tbs += der::tlv(der::tag::context_constructed(3), der::sequence(extensions));
    const der::Bytes signature = der::sequence(der::integer(1) + der::integer(1));
    const der::Bytes whole = der::sequence(der::sequence(tbs) + algorithm + der::bit_string(signature));
    const auto* p = reinterpret_cast<const unsigned char*>(whole.data());
    tls::UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(whole.size())));
    ERR_clear_error();
    return cert;
}

tls::UniqueX509 certificate(const der::Bytes& subject_rdns, const der::Bytes& extensions = {}) {
    auto cert = parsed(subject_rdns, extensions);
    REQUIRE(cert);
    return cert;
}

}  // namespace

TEST_CASE("x509 names: common names of every string type read as UTF-8 - the unreadable counted") {
    const std::string bmp("\0a\0l\0i\0c\0e", 10);
    const std::string universal("\0\0\0b\0\0\0o\0\0\0b", 12);
    auto cert = certificate(attribute(0x1e, bmp) + attribute(0x1c, universal) + attribute(0x13, "printable.test") +
                            attribute(0x14, "b\xfc" "cher"));
    std::size_t unreadable = 99;
    const auto names = tls::subject_common_names(cert.get(), &unreadable);
    CHECK(names == std::vector<std::string>{"alice", "bob", "printable.test", "b\xc3\xbc" "cher"});
    CHECK(unreadable == 0);
    // Octets not valid for their type, and a CN that is no string: the library refuses the
    // certificate (OpenSSL does, canonicalising the name) or ward counts the CN unreadable.
    for (const der::Bytes& bad : {attribute(der::tag::utf8_string, "\xc3"), attribute(0x1e, std::string("\0a\0", 3)),
                                  attribute(der::tag::integer, "\x01")}) {
        auto odd = parsed(attribute(der::tag::utf8_string, "kept") + bad);
        if (!odd) continue;
        CHECK(tls::subject_common_names(odd.get(), &unreadable) == std::vector<std::string>{"kept"});
        CHECK(unreadable == 1);
    }
    // A NUL inside stays, so that matching refuses it.
    auto with_nul = certificate(attribute(der::tag::utf8_string, std::string("evil.test\0.good.test", 20)));
    CHECK(tls::subject_common_names(with_nul.get()) == std::vector<std::string>{std::string("evil.test\0.good.test", 20)});
    CHECK(tls::subject_common_names(nullptr).empty());
}

TEST_CASE("x509 names: subjectAltName read by ward - otherNames of the wrong type and twice the extension unreadable") {
    const der::Bytes names = der::tlv(der::tag::context(2), "xmpp.example") + der::tlv(der::tag::context(6), "xmpp:example") +
                             der::tlv(der::tag::context(7), std::string("\x7f\0\0\x01", 4)) +
                             other_name("1.3.6.1.5.5.7.8.5", der::tag::utf8_string, "example") +
                             other_name("1.3.6.1.5.5.7.8.7", der::tag::ia5_string, "_xmpp-server.example") +
                             other_name("1.3.6.1.4.1.311.20.2.3", der::tag::utf8_string, "upn@example");
    auto cert = certificate(attribute(der::tag::utf8_string, "x"), san(names));
    const auto read = tls::subject_alt_names(cert.get());
    CHECK(read.present);
    CHECK_FALSE(read.unreadable);
    CHECK(read.dns_names == std::vector<std::string>{"xmpp.example"});
    CHECK(read.uris == std::vector<std::string>{"xmpp:example"});
    CHECK(read.ip_addresses == std::vector<std::string>{std::string("\x7f\0\0\x01", 4)});
    REQUIRE(read.other_names.size() == 3);
    CHECK(read.other_names[2].value == "upn@example");
    const auto ids = xmpp::presented_identifiers(cert.get());
    CHECK(ids.xmpp_addrs == std::vector<std::string>{"example"});
    CHECK(ids.srv_ids == std::vector<std::string>{"_xmpp-server.example"});
    CHECK(xmpp::check_server_identity(cert.get(), "example").empty());
    CHECK(xmpp::check_server_identity(cert.get(), "xmpp.example").empty());
    CHECK_FALSE(xmpp::check_server_identity(cert.get(), "other.example").empty());

    // An XmppAddr that is not a UTF8String, an IP address of 5 octets, the extension twice: each
    // makes the names unreadable, and an unreadable certificate names no one (unless the library
    // refuses the certificate outright: wolfSSL does for the last two).
    for (const der::Bytes& bad : {san(other_name("1.3.6.1.5.5.7.8.5", der::tag::ia5_string, "example")),
                                  san(der::tlv(der::tag::context(7), "12345")),
                                  san(der::tlv(der::tag::context(2), "example")) + san(der::tlv(der::tag::context(2), "example"))}) {
        auto broken = parsed(attribute(der::tag::utf8_string, "example"), bad);
        if (!broken) continue;
        CHECK(xmpp::presented_identifiers(broken.get()).unreadable);
        CHECK_FALSE(xmpp::check_server_identity(broken.get(), "example").empty());
    }
    if (auto odd_ip = parsed(attribute(der::tag::utf8_string, "x"), san(der::tlv(der::tag::context(7), "12345"))))
        CHECK(tls::subject_alt_names(odd_ip.get()).unreadable);
    // No extension at all: not present, not unreadable.
    auto plain = certificate(attribute(der::tag::utf8_string, "example"));
    CHECK_FALSE(tls::subject_alt_names(plain.get()).present);
    CHECK_FALSE(tls::subject_alt_names(plain.get()).unreadable);
}

TEST_CASE("x509 names: a name in a form ward does not read makes the names unreadable - never the CN in its place") {
    // Review finding: a dNSName in BER's constructed form ([2] constructed holding an IA5String)
    // was skipped, so a certificate for x.attacker.example with CN victim.example was taken for
    // victim.example. An unknown choice the same.
    for (const der::Bytes& odd : {der::tlv(der::tag::context_constructed(2), der::tlv(der::tag::ia5_string, "x.attacker.example")),
                                  der::tlv(der::tag::context(9), "x"), der::tlv(der::tag::context(0), "x"),
                                  der::tlv(der::tag::ia5_string, "x.attacker.example")}) {
        auto cert = parsed(attribute(der::tag::utf8_string, "victim.example"), san(odd));
        if (!cert) continue;  // the library refuses it outright: nobody gets in either
        CHECK(tls::subject_alt_names(cert.get()).unreadable);
        CHECK_FALSE(xmpp::check_server_identity(cert.get(), "victim.example").empty());
    }
    // The forms ward does not match but knows (rfc822Name, directoryName, registeredID) are fine.
    auto known = certificate(attribute(der::tag::utf8_string, "victim.example"),
                             san(der::tlv(der::tag::context(1), "a@victim.example") + der::tlv(der::tag::context(2), "victim.example")));
    CHECK_FALSE(tls::subject_alt_names(known.get()).unreadable);
    CHECK(xmpp::check_server_identity(known.get(), "victim.example").empty());
}

TEST_CASE("x509 names: a second CN that cannot be read - and a CN ending in a dot - name no XMPP domain") {
    // Review findings: an unreadable second CN was dropped, leaving one CN to match; a CN with a
    // trailing dot escapes name constraints, so it must not match either.
    if (auto two = parsed(attribute(der::tag::utf8_string, "victim.example") + attribute(der::tag::generalized_time, "20260101000000Z"))) {
        std::size_t unreadable = 0;
        CHECK(tls::subject_common_names(two.get(), &unreadable).size() == 1);
        CHECK(unreadable == 1);
        CHECK_FALSE(xmpp::check_server_identity(two.get(), "victim.example").empty());
    }
    auto dotted = certificate(attribute(der::tag::utf8_string, "victim.example."));
    CHECK_FALSE(xmpp::check_server_identity(dotted.get(), "victim.example").empty());
    CHECK_FALSE(xmpp::check_server_identity(dotted.get(), "victim.example.").empty());
    auto plain = certificate(attribute(der::tag::utf8_string, "victim.example"));
    CHECK(xmpp::check_server_identity(plain.get(), "victim.example").empty());
    CHECK(xmpp::check_server_identity(plain.get(), "victim.example.").empty());
}

TEST_CASE("x509 names: an address is named by an iPAddress entry with its exact octets and by nothing else") {
    auto cert = certificate(attribute(der::tag::utf8_string, "127.0.0.1"),
                            san(der::tlv(der::tag::context(2), "10.0.0.5") + der::tlv(der::tag::context(2), "*") +
                                der::tlv(der::tag::context(7), std::string("\x7f\0\0\x01", 4)) +
                                der::tlv(der::tag::context(7), std::string(15, '\0') + "\x01")));
    CHECK(tls::names_ip_address(cert.get(), "127.0.0.1"));
    CHECK(tls::names_ip_address(cert.get(), "::1"));
    CHECK(tls::names_ip_address(cert.get(), "0:0:0:0:0:0:0:1"));
    CHECK_FALSE(tls::names_ip_address(cert.get(), "10.0.0.5"));  // only a dNSName says so
    CHECK_FALSE(tls::names_ip_address(cert.get(), "::2"));       // not matched by the "*" dNSName
    CHECK_FALSE(tls::names_ip_address(cert.get(), "127.0.0.2"));
    CHECK_FALSE(tls::names_ip_address(cert.get(), "localhost"));
    CHECK_FALSE(tls::names_ip_address(nullptr, "127.0.0.1"));
    // The library's own check agrees where it can (wolfSSL's after ward spells the address).
    CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);
    CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
}

TEST_CASE("x509 names: a host is named by a dNSName - the CN only without one - a wildcard only as a whole left-most label") {
    const auto dns = [](std::string_view name) { return der::tlv(der::tag::context(2), name); };
    auto cert = certificate(attribute(der::tag::utf8_string, "cn.example.org"),
                            san(dns("Chat.Example.org") + dns("*.conference.example.org") + dns("f*.example.org") +
                                dns("*.org")));
    CHECK(tls::names_dns_host(cert.get(), "chat.example.org"));  // case does not matter
    CHECK(tls::names_dns_host(cert.get(), "room.conference.example.org"));
    CHECK_FALSE(tls::names_dns_host(cert.get(), "conference.example.org"));     // the wildcard needs a label
    CHECK_FALSE(tls::names_dns_host(cert.get(), "a.b.conference.example.org"));  // one label only
    CHECK_FALSE(tls::names_dns_host(cert.get(), "foo.example.org"));  // no partial wildcards
    CHECK_FALSE(tls::names_dns_host(cert.get(), "example.org"));      // "*.org": too few labels
    CHECK_FALSE(tls::names_dns_host(cert.get(), "anything.org"));
    CHECK_FALSE(tls::names_dns_host(cert.get(), "cn.example.org"));   // the CN is not consulted beside dNSNames
    CHECK_FALSE(tls::names_dns_host(cert.get(), ""));
    CHECK_FALSE(tls::names_dns_host(nullptr, "chat.example.org"));
    // An embedded NUL names nothing (where the library parses such a name at all).
    if (auto nul = parsed(attribute(der::tag::utf8_string, "x"), san(dns(std::string("nul.example.org\0.evil.test", 27)))))
        CHECK_FALSE(tls::names_dns_host(nul.get(), "nul.example.org"));

    // Without a dNSName (an iPAddress alone does not count) the CN names the host.
    auto by_cn = certificate(attribute(der::tag::utf8_string, "cn.example.org"),
                             san(der::tlv(der::tag::context(7), std::string("\x7f\0\0\x01", 4))));
    CHECK(tls::names_dns_host(by_cn.get(), "cn.example.org"));
    CHECK_FALSE(tls::names_dns_host(by_cn.get(), "other.example.org"));
    auto no_san = certificate(attribute(der::tag::utf8_string, "*.example.org"));
    CHECK(tls::names_dns_host(no_san.get(), "www.example.org"));
    // RFC 6125 6.4.4 (review finding): a URI or an application's identifier in the
    // subjectAltName, and the CN is not consulted either.
    auto uri_only = certificate(attribute(der::tag::utf8_string, "*.example.org"),
                                san(der::tlv(der::tag::context(6), "spiffe://example.org/workload")));
    CHECK_FALSE(tls::names_dns_host(uri_only.get(), "www.example.org"));
    auto other_only = certificate(attribute(der::tag::utf8_string, "www.example.org"),
                                  san(other_name("1.3.6.1.5.5.7.8.5", der::tag::utf8_string, "example.org")));
    CHECK_FALSE(tls::names_dns_host(other_only.get(), "www.example.org"));
    // An extension whose length is not in DER's shortest form is not read as the subjectAltName
    // it would be (review finding): the names are unreadable, the CN is not used in its place.
    const der::Bytes padded_san = der::tlv(der::tag::sequence,
                                           std::string("\x06\x81\x03\x55\x1d\x11", 6) +
                                               der::tlv(der::tag::octet_string, der::sequence(dns("other.example"))));
    if (auto odd = parsed(attribute(der::tag::utf8_string, "victim.example"), padded_san))
        CHECK_FALSE(tls::names_dns_host(odd.get(), "victim.example"));
    // Names ward cannot read name nothing, not the CN in their place.
    if (auto unreadable = parsed(attribute(der::tag::utf8_string, "cn.example.org"),
                                 san(der::tlv(der::tag::context(9), "x"))))
        CHECK_FALSE(tls::names_dns_host(unreadable.get(), "cn.example.org"));
}
