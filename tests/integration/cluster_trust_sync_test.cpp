// SPDX-License-Identifier: Apache-2.0
// The cluster's trust store kept equal to what the nodes published (proxy/cluster/trust_sync),
// without etcd: what it refuses to take, and when it refuses to touch the store at all (the
// findings of the attacker review of the cluster change, each a case here).
#include <doctest/doctest.h>

#include <set>

#include "config/loader.hpp"
#include "proxy/cluster/trust_sync.hpp"
#include "proxy/ops/pki.hpp"
#include "../support/background_process.hpp"
#include "../support/net_test_support.hpp"
#include "../support/tls_test_support.hpp"

namespace fs = std::filesystem;
using namespace ward;
using namespace ward::cluster;

namespace {

struct Store {
    Store() {
        fs::create_directories(dir.path() / "nodes");
        test::write_text_file(config_file(),
                              "certificates: { xmpp: { cert: server.pem, key: server.key } }\n"
                              "trust_stores: { nodes: { dir: nodes } }\n"
                              "tls_peer_subjects: [ { subject: ops.test, description: imported by hand } ]\n"
                              "tls_contexts: { s2s: { certificate: xmpp, trust_store: nodes, peer_subjects: [ops.test] } }\n");
    }
    fs::path config_file() const { return dir.path() / "ward.yaml"; }
    std::set<std::string> files() const {
        std::set<std::string> out;
        for (const auto& e : fs::directory_iterator(dir.path() / "nodes")) out.insert(e.path().filename().string());
        return out;
    }
    config::Config config() const {
        auto r = config::load_file(config_file());
        REQUIRE(r.config);
        return *r.config;
    }
    std::string pem(const std::string& name, const std::string& cn) {
        auto spec = test::TestPki::client_spec(cn);
        spec.server_auth = true;
        return test::read_text_file(pki.issue(name, spec).cert);
    }
    test::TempDir dir{"cluster-sync"};
    test::TestPki pki{dir.path()};
};

}  // namespace

TEST_CASE("cluster trust sync: files subjects and selections follow the nodes - one holder per subject") {
    Store s;
    const auto n1 = s.pem("n1", "n1.test");
    const auto n2 = s.pem("n2", "n2.test");
    auto r = sync_trust(s.config_file(), "nodes", "c1", {{{"c1", "n1"}, n1}, {{"c1", "n2"}, n2}});
    REQUIRE_MESSAGE(r, r.error());
    CHECK(r->refused.empty());
    CHECK(s.files() == std::set<std::string>{"cluster-c1@n1.pem", "cluster-c1@n2.pem"});
    CHECK(s.config().find_tls_context("s2s")->peer_subjects == std::vector<std::string>{"ops.test", "n1.test", "n2.test"});
    // Nothing changed: nothing written.
    auto again = sync_trust(s.config_file(), "nodes", "c1", {{{"c1", "n1"}, n1}, {{"c1", "n2"}, n2}});
    REQUIRE(again);
    CHECK(again->changes.empty());

    // Names that would have made one file ("a-b"/"c" and "a"/"b-c") make two.
    const auto x = s.pem("x", "x.test");
    const auto y = s.pem("y", "y.test");
    auto names = sync_trust(s.config_file(), "nodes", "a", {{{"a-b", "c"}, x}, {{"a", "b-c"}, y}});
    REQUIRE(names);
    CHECK(s.files() == std::set<std::string>{"cluster-a-b@c.pem", "cluster-a@b-c.pem"});

    // A node claiming the operator's subject, or one another node holds, is not taken; this
    // cluster's node keeps its name against an imported cluster's.
    const auto ops = s.pem("ops", "ops.test");
    const auto n1_elsewhere = s.pem("n1b", "N1.TEST");
    auto claims = sync_trust(s.config_file(), "nodes", "c1",
                             {{{"c1", "n1"}, n1}, {{"c1", "x"}, ops}, {{"b-imported", "z"}, n1_elsewhere}});
    REQUIRE(claims);
    CHECK(s.files() == std::set<std::string>{"cluster-c1@n1.pem"});
    REQUIRE(claims->refused.size() == 2);
    CHECK(claims->refused[0] == "the certificate of node 'x' of cluster 'c1' names 'ops.test', which the operator's "
                                "tls_peer_subjects already holds");
    CHECK(claims->refused[1] == "the certificate of node 'z' of cluster 'b-imported' names 'N1.TEST', which node 'n1' "
                                "of cluster 'c1' already holds");
    // n2 left: its subject and selection are gone, the operator's stay.
    const auto c = s.config();
    CHECK(c.find_peer_subject("n2.test") == nullptr);
    CHECK(c.find_peer_subject("ops.test") != nullptr);
    CHECK(c.find_tls_context("s2s")->peer_subjects == std::vector<std::string>{"ops.test", "n1.test"});
}

TEST_CASE("cluster trust sync: a file ward did not write stops every change") {
    Store s;
    const auto n1 = s.pem("n1", "n1.test");
    REQUIRE(sync_trust(s.config_file(), "nodes", "c1", {{{"c1", "n1"}, n1}}));
    // An operator's CA dropped into the folder, under a name the store loads.
    fs::copy_file(s.pki.ca().cert, s.dir.path() / "nodes" / "ca.cert");
    auto r = sync_trust(s.config_file(), "nodes", "c1", {});
    REQUIRE_FALSE(r);
    CHECK(r.error().find("holds files ward did not write (ca.cert)") != std::string::npos);
    // Nothing was changed: n1 is still there, selected.
    CHECK(s.files() == std::set<std::string>{"ca.cert", "cluster-c1@n1.pem"});
    CHECK(s.config().find_peer_subject("n1.test") != nullptr);
    // A symbolic link named like ward's files is not ward's either.
    fs::remove(s.dir.path() / "nodes" / "ca.cert");
    fs::create_symlink(s.pki.ca().cert, s.dir.path() / "nodes" / "cluster-c1@evil.pem");
    CHECK_FALSE(sync_trust(s.config_file(), "nodes", "c1", {{{"c1", "n1"}, n1}}));
}

TEST_CASE("cluster trust sync: a subject CN ward cannot write is refused - the configuration stays loadable") {
    Store s;
    int checked = 0;
    for (const std::string& cn : {std::string(), std::string("a\tb"), std::string("x\x7fy"), std::string(300, 'a')}) {
        CAPTURE(cn.size());
        ops::CertSpec spec = test::TestPki::client_spec(cn);
        if (cn.empty()) spec.common_names = {""};
        // (wolfSSL does not read a certificate with an empty CN at all.)
        const auto files = s.pki.issue_if_readable("odd", spec);
        if (!files) continue;
        auto r = sync_trust(s.config_file(), "nodes", "c1", {{{"c1", "odd"}, test::read_text_file(files->cert)}});
        REQUIRE_MESSAGE(r, r.error());
        REQUIRE(r->refused.size() == 1);
        CHECK(r->changes.empty());
        CHECK(config::load_file(s.config_file()).config);
        ++checked;
    }
    CHECK(checked >= 3);
}
