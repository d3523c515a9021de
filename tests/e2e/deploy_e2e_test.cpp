// SPDX-License-Identifier: Apache-2.0
// The container image definition and the Kubernetes manifests, checked offline (no container
// engine or cluster here): the manifests against the API's schemas, field names and their
// references to each other (tests/e2e/k8s/validate.mjs), the ConfigMap's ward.yaml by
// `ward check`, and the Containerfile against what the built binary links; and the FIPS provider
// build script's refusal of an operator's tarball without the SHA-256 it was checked against.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>

#include "tests/e2e/e2e_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ward::e2e::contains;

const fs::path kDeploy = fs::path(WARD_SOURCE_DIR) / "deploy";

}  // namespace

TEST_CASE("deploy e2e: the Kubernetes manifests validate offline - and their ward.yaml checks") {
    ward::test::TempDir dir{"e2e-k8s"};
    const auto r = ward::test::run_process(
        {"node", std::string(WARD_K8S_CHECK_DIR) + "/validate.mjs", (kDeploy / "k8s").string(), dir.path().string()},
        180s);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* line : {"ok schema deployment.yaml Deployment/ward", "ok schema pdb.yaml PodDisruptionBudget/ward",
                             "ok schema service.yaml Service/ward", "ok schema configmap.yaml ConfigMap/ward-config",
                             "ok schema secret.yaml Secret/ward-pki", "ok field names of 6 documents",
                             "ok references of Deployment/ward"})
        CHECK_MESSAGE(contains(r.out, line), line);
    CHECK_FALSE(contains(r.out, "FAIL"));

    // The pods' configuration is valid with the certificates the Secret provides.
    const auto ward = ward::test::ward_binary();
    REQUIRE(ward::test::run_process({ward, "pki", "init", (dir.path() / "pki").string()}, 60s).exit_code == 0);
    const auto check = ward::test::run_process({ward, "check", "-c", (dir.path() / "ward.yaml").string()}, 60s);
    CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);

    // The Deployment as the issue asks: two replicas, hardened, probed on /readyz.
    const auto deployment = ward::test::read_text_file(kDeploy / "k8s/deployment.yaml");
    for (const char* line : {"replicas: 2", "readOnlyRootFilesystem: true", "runAsNonRoot: true",
                             "allowPrivilegeEscalation: false", "drop: [\"ALL\"]", "path: /readyz"})
        CHECK_MESSAGE(contains(deployment, line), line);
}

// The image is the OpenSSL flavour (as the Debian package is): its libraries are checked against
// an OpenSSL build of ward.
TEST_CASE("deploy e2e: the Containerfile is multi-stage and non-root - and installs every library ward links" *
          doctest::skip(ward::tls::flavour::kName != "openssl")) {
    const auto text = ward::test::read_text_file(kDeploy / "container/Containerfile");
    REQUIRE_FALSE(text.empty());
    static const std::regex from(R"((^|\n)FROM )");
    CHECK(std::distance(std::sregex_iterator(text.begin(), text.end(), from), std::sregex_iterator()) == 2);
    CHECK(contains(text, "\nUSER 10001:10001\n"));
    CHECK(contains(text, "HEALTHCHECK"));
    CHECK(contains(text, "https://127.0.0.1:9443/readyz"));
    CHECK_FALSE(contains(text, "\nADD "));  // nothing fetched by the build beyond Debian and npm

    // The runtime stage installs the Debian package of every shared library the binary needs
    // (those of the base image aside).
    const auto runtime = text.substr(text.rfind("\nFROM "));
    const auto ldd = ward::test::run_process({"ldd", ward::test::ward_binary()}, 30s);
    REQUIRE(ldd.exit_code == 0);
    static const std::regex lib(R"(=> (/\S+))");
    std::set<std::string> packages;
    for (std::sregex_iterator it(ldd.out.begin(), ldd.out.end(), lib), end; it != end; ++it) {
        // (Merged /usr: ldd may name /lib/..., which dpkg knows as /usr/lib/...)
        const std::string path = (*it)[1];
        auto owner = ward::test::run_process({"dpkg-query", "-S", path}, 30s);
        if (owner.exit_code != 0) owner = ward::test::run_process({"dpkg-query", "-S", "/usr" + path}, 30s);
        REQUIRE_MESSAGE(owner.exit_code == 0, owner.err);
        packages.insert(owner.out.substr(0, owner.out.find(':')));
    }
    const std::set<std::string> in_base = {"libc6", "libstdc++6", "libgcc-s1"};
    for (const auto& p : packages) {
        if (in_base.count(p)) continue;
        CHECK_MESSAGE(contains(runtime, " " + p + " "), p << " is linked but not installed in the image");
    }
}

TEST_CASE("deploy e2e: build-provider.sh builds from an operator's tarball only with the SHA-256 it was checked against") {
    ward::test::TempDir dir("e2e-fips-source");
    const auto script = (fs::path(WARD_SOURCE_DIR) / "deploy" / "fips" / "build-provider.sh").string();
    const auto tarball = dir.path() / "openssl-3.0.9.tar.gz";
    ward::test::write_text_file(tarball, "not really a tarball");
    const auto sha = ward::test::run_process({"sha256sum", tarball.string()}, 10s).out.substr(0, 64);
    REQUIRE(sha.size() == 64);
    const auto install = "WARD_FIPS_DIR=" + (dir.path() / "fips").string();
    const auto cache = "WARD_FIPS_CACHE_DIR=" + (dir.path() / "cache").string();
    auto run = [&](std::vector<std::string> env) {
        std::vector<std::string> argv{"env", install, cache};
        argv.insert(argv.end(), env.begin(), env.end());
        argv.insert(argv.end(), {"bash", script});
        return ward::test::run_process(argv, 60s);
    };
    // Without the SHA-256, with another one, or a malformed one: refused before anything runs.
    auto none = run({"WARD_FIPS_SOURCE=" + tarball.string()});
    CHECK(none.exit_code != 0);
    CHECK_MESSAGE(none.err.find("WARD_FIPS_SOURCE needs WARD_FIPS_SOURCE_SHA256") != std::string::npos, none.err);
    const std::string other(64, 'a');
    auto wrong = run({"WARD_FIPS_SOURCE=" + tarball.string(), "WARD_FIPS_SOURCE_SHA256=" + other});
    CHECK(wrong.exit_code != 0);
    CHECK_MESSAGE(wrong.err.find("refusing " + tarball.string() + ": its SHA-256 is " + sha + ", not the " + other) !=
                      std::string::npos,
                  wrong.err);
    auto malformed = run({"WARD_FIPS_SOURCE=" + tarball.string(), "WARD_FIPS_SOURCE_SHA256=abc"});
    CHECK(malformed.exit_code != 0);
    CHECK(malformed.err.find("is not 64 hex digits") != std::string::npos);
    auto alone = run({"WARD_FIPS_SOURCE_SHA256=" + sha});
    CHECK(alone.exit_code != 0);
    CHECK(alone.err.find("WARD_FIPS_SOURCE (the tarball) is not") != std::string::npos);
    // The right SHA-256 passes the check; what it holds is then judged (not an OpenSSL tree).
    auto right = run({"WARD_FIPS_SOURCE=" + tarball.string(), "WARD_FIPS_SOURCE_SHA256=" + sha});
    CHECK(right.exit_code != 0);
    CHECK_MESSAGE(right.out.find("SHA-256 matches WARD_FIPS_SOURCE_SHA256") != std::string::npos, right.out << right.err);
    CHECK_FALSE(fs::exists(dir.path() / "fips" / "fips.so"));
}
