// SPDX-License-Identifier: Apache-2.0
// The FIPS provider becomes the process default once loaded, which is why these tests live in
// their own executable. Every case is also valid when all run in one process in this order:
// the failing cases come first and leave the default library context untouched.
#include "tls/fips_provider.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using ward::tls::fips_provider_active;
using ward::tls::load_fips_provider;

// The installed provider: deploy/fips/build-provider.sh puts it in kDefaultFipsModuleDir; CI or a
// developer with a provider elsewhere sets WARD_FIPS_MODULE_DIR.
fs::path installed_module_dir() {
    if (const char* dir = std::getenv("WARD_FIPS_MODULE_DIR"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    return ward::tls::kDefaultFipsModuleDir;
}

// A fresh directory under the temp dir, removed again at scope exit.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag)
        : path(fs::temp_directory_path() /
               ("ward-fips-test-" + tag + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("load_fips_provider names the missing fips.so of a missing module dir") {
    const fs::path dir = "/nonexistent/ward-fips-test";
    const std::string error = load_fips_provider(dir);

    CHECK_FALSE(error.empty());
    CHECK(contains(error, (dir / "fips.so").string() + " does not exist"));
    CHECK(contains(error, (dir / "fipsmodule.cnf").string()));
    CHECK(contains(error, "deploy/fips/build-provider.sh"));
    CHECK(contains(error, "security.fips_module_dir"));
    CHECK(ERR_peek_error() == 0);
    CHECK_FALSE(fips_provider_active());
}

TEST_CASE("load_fips_provider names a missing fipsmodule.cnf") {
    TempDir dir("no-cnf");
    std::ofstream(dir.path / "fips.so") << "not a shared object";

    const std::string error = load_fips_provider(dir.path);

    CHECK(contains(error, (dir.path / "fipsmodule.cnf").string() + " does not exist"));
    CHECK(ERR_peek_error() == 0);
    CHECK_FALSE(fips_provider_active());
}

TEST_CASE("load_fips_provider refuses a fipsmodule.cnf whose MAC does not match fips.so") {
    const fs::path installed = installed_module_dir();
    REQUIRE_MESSAGE(fs::exists(installed / "fips.so"),
                    "no FIPS provider in " << installed.string()
                                           << "; run deploy/fips/build-provider.sh");
    // A directory name with characters OpenSSL's config syntax treats specially, so the escaping
    // of the generated .include and module lines is exercised too.
    TempDir dir("tampered $x #y 'z'");
    fs::copy_file(installed / "fips.so", dir.path / "fips.so");
    std::string config = read_file(installed / "fipsmodule.cnf");
    const auto mac = config.find("module-mac = ");
    REQUIRE(mac != std::string::npos);
    char& digit = config[mac + 13];
    digit = digit == '0' ? '1' : '0';
    std::ofstream(dir.path / "fipsmodule.cnf") << config;

    const std::string error = load_fips_provider(dir.path);

    CHECK(contains(error, "integrity check failed"));
    CHECK(contains(error, (dir.path / "fips.so").string()));
    CHECK(ERR_peek_error() == 0);
    // The dry run caught it, so the default context still works without FIPS.
    CHECK_FALSE(fips_provider_active());
    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    CHECK(md5 != nullptr);
    EVP_MD_free(md5);
}

TEST_CASE("load_fips_provider reports a fips.so that is no shared object") {
    const fs::path installed = installed_module_dir();
    REQUIRE_MESSAGE(fs::exists(installed / "fipsmodule.cnf"),
                    "no FIPS provider in " << installed.string()
                                           << "; run deploy/fips/build-provider.sh");
    TempDir dir("not-elf");
    std::ofstream(dir.path / "fips.so") << "not a shared object";
    fs::copy_file(installed / "fipsmodule.cnf", dir.path / "fipsmodule.cnf");

    const std::string error = load_fips_provider(dir.path);

    CHECK(contains(error, "did not activate"));
    CHECK(contains(error, (dir.path / "fips.so").string()));
    CHECK(ERR_peek_error() == 0);
    CHECK_FALSE(fips_provider_active());
}

TEST_CASE("load_fips_provider loads the installed provider and leaves only FIPS algorithms") {
    const fs::path dir = installed_module_dir();
    const std::string error = load_fips_provider(dir);
    REQUIRE_MESSAGE(error.empty(), error);

    CHECK(fips_provider_active());
    CHECK(ERR_peek_error() == 0);

    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    CHECK(md5 == nullptr);
    EVP_MD_free(md5);
    EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    CHECK(chacha == nullptr);
    EVP_CIPHER_free(chacha);
    ERR_clear_error();  // the refused fetches queue "unsupported" errors

    EVP_CIPHER* aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    REQUIRE(aes != nullptr);
    CHECK(std::string(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(aes))) == "fips");
    EVP_CIPHER_free(aes);
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA-256", nullptr);
    REQUIRE(sha256 != nullptr);
    CHECK(std::string(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(sha256))) == "fips");
    EVP_MD_free(sha256);

    // Loading again (e.g. on a config reload) only re-runs the self tests.
    CHECK(load_fips_provider(dir).empty());
    CHECK(fips_provider_active());

    // It says what it is; the one built from Debian's source is not a validated version.
    const auto info = ward::tls::fips_provider_info();
    CHECK(info.name == "OpenSSL FIPS Provider");
    CHECK(info.version.rfind("3.", 0) == 0);
    CHECK_FALSE(info.build_info.empty());
    CHECK(ward::tls::fips_validation(info.version).empty());
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("fips_validation knows the validated provider versions and no others") {
    using ward::tls::fips_validation;
    CHECK(fips_validation("3.0.8") == "FIPS 140-2 certificate #4282");
    CHECK(fips_validation("3.0.9") == "FIPS 140-2 certificate #4282");
    CHECK(fips_validation("3.1.2") == "FIPS 140-3 certificate #4985");
    for (const char* other : {"3.0.22", "3.0.0", "3.0.80", "3.1.20", "3.0", "", "3.0.9 "}) CHECK(fips_validation(other).empty());
}
