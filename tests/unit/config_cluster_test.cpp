// SPDX-License-Identifier: Apache-2.0
// Configuration of a ward cluster on etcd: the block's fields, every refusal at file:line:col,
// and the write-back round trip (certificate import writes the file again: the block must stay).
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "../support/tls_test_support.hpp"
#include "config_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace ward::config;

namespace {

using ward::test::lines_of;

struct Folder {
    Folder() { fs::create_directories(path / "nodes"); }
    ward::test::TempDir dir{"config-cluster"};
    const fs::path& path = dir.path();
    ward::test::TestPki pki{path};  // server.pem, server.key, trust/
};

const std::string kTop =
    "certificates: { xmpp: { cert: server.pem, key: server.key } }\n"
    "trust_stores: { etcd-ca: { dir: trust }, nodes: { dir: nodes } }\n"
    "tls_contexts: { etcd-client: { certificate: xmpp, trust_store: etcd-ca } }\n";

}  // namespace

TEST_CASE("cluster: settings load - defaults - round trip through the writer") {
    Folder f;
    const std::string yaml = kTop +
                             "cluster:\n"
                             "  name: prod\n"
                             "  etcd:\n"
                             "    endpoints: ['https://etcd1.example:2379', 'https://[2001:db8::1]:2379', 'http://127.0.0.1:2379/']\n"
                             "    tls_context: etcd-client\n"
                             "    prefix: /ward/eu\n"
                             "  trust_store: nodes\n"
                             "  publish_certificate: xmpp\n"
                             "  lease_ttl: 30s\n"
                             "  ticket_rotation: 90m\n"
                             "  ticket_secret_file: ticket.secret\n"
                             "  import: [us, asia]\n";
    ward::test::write_text_file(f.path / "ticket.secret", std::string(32, 's'));
    fs::permissions(f.path / "ticket.secret", fs::perms::owner_read | fs::perms::owner_write);
    auto r = load_string(yaml, f.path / "ward.yaml");
    REQUIRE_MESSAGE(r.config, lines_of(r.diagnostics));
    CHECK(lines_of(r.diagnostics).empty());
    const auto& c = r.config->cluster;
    CHECK(c.enabled);
    CHECK(c.name == "prod");
    REQUIRE(c.endpoints.size() == 3);
    CHECK(c.endpoints[0].tls);
    CHECK(c.endpoints[0].host == "etcd1.example");
    CHECK(c.endpoints[1].host == "2001:db8::1");
    CHECK(c.endpoints[1].to_string() == "https://[2001:db8::1]:2379");
    CHECK_FALSE(c.endpoints[2].tls);
    CHECK(c.endpoints[2].to_string() == "http://127.0.0.1:2379");
    CHECK(c.prefix == "/ward/eu");
    CHECK(c.lease_ttl == std::chrono::seconds(30));
    CHECK(c.ticket_rotation == std::chrono::minutes(90));
    CHECK(c.ticket_secret_file.resolved == f.path / "ticket.secret");
    CHECK(c.import_clusters == std::vector<std::string>{"us", "asia"});
    const auto text = to_yaml(*r.config);
    auto again = load_string(text, f.path / "ward.yaml");
    REQUIRE_MESSAGE(again.config, lines_of(again.diagnostics) << text);
    CHECK(again.config->cluster == c);

    // Without the block: no cluster, and none written.
    auto none = load_string(kTop, f.path / "ward.yaml");
    REQUIRE_MESSAGE(none.config, lines_of(none.diagnostics));
    CHECK_FALSE(none.config->cluster.enabled);
    CHECK(to_yaml(*none.config).find("cluster") == std::string::npos);
    // Plaintext on loopback, no TLS context: the defaults.
    auto plain = load_string(kTop + "cluster: { name: c1, etcd: { endpoints: ['http://localhost:2379'] }, trust_store: nodes }\n",
                             f.path / "ward.yaml");
    REQUIRE_MESSAGE(plain.config, lines_of(plain.diagnostics));
    CHECK(plain.config->cluster.prefix == "/ward");
    CHECK(plain.config->cluster.lease_ttl == std::chrono::seconds(10));
    CHECK(plain.config->cluster.ticket_rotation == std::chrono::hours(12));
    CHECK(plain.config->cluster.publish_certificate.empty());
}

TEST_CASE("cluster: every refusal names its place") {
    Folder f;
    const std::string yaml = kTop +
                             "cluster:\n"                                                   // 4
                             "  name: 'prod cluster'\n"                                    // 5
                             "  etcd:\n"                                                    // 6
                             "    endpoints: ['http://etcd.example:2379', 'ftp://x:1', 'https://a:2379/v3', 'https://b']\n"
                             "    prefix: 'ward/'\n"                                       // 8
                             "  trust_store: nodez\n"                                      // 9
                             "  publish_certificate: other\n"                              // 10
                             "  lease_ttl: 1500ms\n"                                       // 11
                             "  import: [c1, 'bad name', c1]\n"                            // 12
                             "  ticket_rotation: 169h\n";                                  // 13
    auto r = load_string(yaml, f.path / "x.yaml");
    const auto file = (f.path / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) == lines_of(std::vector<std::string>{
        file + ":5:9: error: cluster.name: 'prod cluster' is not a cluster name (up to 64 letters, digits, '.', '_' or '-')",
        file + ":7:17: error: cluster.etcd.endpoints[0]: 'http://etcd.example:2379': plaintext to etcd only on loopback; "
               "use https with cluster.etcd.tls_context",
        file + ":7:45: error: cluster.etcd.endpoints[1]: 'ftp://x:1' is not an etcd client URL (https://host:port, or "
               "http://host:port on loopback)",
        file + ":7:58: error: cluster.etcd.endpoints[2]: 'https://a:2379/v3' has a path: write only the scheme, host and port",
        file + ":7:79: error: cluster.etcd.endpoints[3]: 'https://b' has no port (write host:port, or [IPv6]:port)",
        file + ":8:13: error: cluster.etcd.prefix: 'ward/' is not a key prefix ('/' then names of letters, digits, '.', '_' "
               "or '-', separated by '/', e.g. /ward)",
        file + ":11:14: error: cluster.lease_ttl: must be whole seconds from 2s to 1h",
        file + ":13:20: error: cluster.ticket_rotation: must be whole seconds from 2s to 168h",
        file + ":12:16: error: cluster.import[1]: 'bad name' is not a cluster name",
        file + ":9:16: error: cluster.trust_store: unknown trust store 'nodez'",
        file + ":10:24: error: cluster.publish_certificate: unknown certificate 'other'",
        file + ":12:28: error: cluster.import[2]: 'c1' is listed twice",
    }));
}

TEST_CASE("cluster: references - https needs a TLS context - the cluster's store is not etcd's") {
    Folder f;
    auto check = [&](const std::string& block) {
        auto r = load_string(kTop + block, f.path / "x.yaml");
        CHECK_FALSE(r.config);
        return lines_of(r.diagnostics);
    };
    const auto file = (f.path / "x.yaml").string();
    CHECK(check("cluster: { name: c, etcd: { endpoints: ['https://e:2379'] }, trust_store: nodes }\n") ==
          file + ":4:27: error: cluster.etcd.tls_context: https endpoints need a tls_context (etcd's CA and this "
                 "node's client certificate)\n");
    CHECK(check("cluster: { name: c, etcd: { endpoints: ['https://e:2379'], tls_context: nope }, trust_store: nodes }\n") ==
          file + ":4:73: error: cluster.etcd.tls_context: unknown TLS context 'nope'\n");
    CHECK(check("cluster: { name: c, etcd: { endpoints: ['https://e:2379'], tls_context: etcd-client }, "
                "trust_store: etcd-ca }\n") ==
          file + ":4:101: error: cluster.trust_store: trust store 'etcd-ca' is also how ward verifies etcd "
                 "(cluster.etcd.tls_context): ward keeps the cluster's store equal to the nodes' certificates; give it a "
                 "folder of its own\n");
    CHECK(check("cluster: { etcd: { endpoints: [] } }\n") ==
          file + ":4:10: error: cluster.name: the cluster needs a name\n" + file +
              ":4:31: error: cluster.etcd.endpoints: the cluster needs at least one etcd endpoint\n" + file +
              ":4:10: error: cluster.trust_store: the cluster needs a trust_store to keep the nodes' certificates in\n");
    CHECK(check("cluster: { name: c, etcd: { endpoints: ['http://127.0.0.1:2379'] }, trust_store: nodes, import: [c] }\n") ==
          file + ":4:98: error: cluster.import[0]: 'c' is this cluster\n");
}

TEST_CASE("cluster: the cluster's trust store may not share its folder with another store") {
    Folder f;
    const std::string yaml =
        "certificates: { xmpp: { cert: server.pem, key: server.key } }\n"
        "trust_stores: { nodes: { dir: nodes }, also: { dir: ./nodes/ } }\n"
        "cluster: { name: c, etcd: { endpoints: ['http://127.0.0.1:2379'] }, trust_store: nodes }\n";
    auto r = load_string(yaml, f.path / "x.yaml");
    CHECK_FALSE(r.config);
    const auto file = (f.path / "x.yaml").string();
    CHECK(lines_of(r.diagnostics) ==
          file + ":3:82: error: cluster.trust_store: trust store 'nodes' shares its folder with trust store 'also': ward "
                 "keeps the cluster's folder equal to the nodes' certificates; give it a folder of its own\n");
}

TEST_CASE("cluster: the ticket secret is the owner's alone and long enough") {
    Folder f;
    const auto file = (f.path / "x.yaml").string();
    auto check = [&](const std::string& content, fs::perms perms) {
        ward::test::write_text_file(f.path / "t.secret", content);
        fs::permissions(f.path / "t.secret", perms);
        auto r = load_string(kTop + "cluster: { name: c, etcd: { endpoints: ['http://127.0.0.1:2379'] }, trust_store: nodes,\n"
                                    "  ticket_secret_file: t.secret }\n",
                             f.path / "x.yaml");
        return lines_of(r.diagnostics);
    };
    const auto owner = fs::perms::owner_read | fs::perms::owner_write;
    const auto secret = (f.path / "t.secret").string();
    CHECK(check(std::string(32, 's'), owner).empty());
    CHECK(check(std::string(32, 's'), owner | fs::perms::group_read) ==
          file + ":5:23: error: cluster.ticket_secret_file: '" + secret +
              "' is readable by others than its owner: the secret seals the cluster's ticket keys (chmod 600)\n");
    CHECK(check(std::string(31, 's'), owner) ==
          file + ":5:23: error: cluster.ticket_secret_file: '" + secret +
              "' must hold 32 to 4096 bytes of secret (e.g. openssl rand -out FILE 32)\n");
    fs::remove(f.path / "t.secret");
    auto missing = load_string(kTop + "cluster: { name: c, etcd: { endpoints: ['http://127.0.0.1:2379'] }, trust_store: nodes,\n"
                                      "  ticket_secret_file: t.secret }\n",
                               f.path / "x.yaml");
    CHECK(lines_of(missing.diagnostics) ==
          file + ":5:23: error: cluster.ticket_secret_file: file '" + secret + "' does not exist\n");
}
