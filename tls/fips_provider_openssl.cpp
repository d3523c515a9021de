// SPDX-License-Identifier: Apache-2.0
#include "tls/fips_provider.hpp"

#include <fstream>
#include <memory>
#include <string_view>
#include <system_error>

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/self_test.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace ward::tls {
namespace {

namespace fs = std::filesystem;

using UniqueConf = std::unique_ptr<CONF, OpensslDeleter<NCONF_free>>;

void free_cstring_stack(STACK_OF(OPENSSL_CSTRING) * s) { sk_OPENSSL_CSTRING_free(s); }
using UniqueCstringStack =
    std::unique_ptr<STACK_OF(OPENSSL_CSTRING), OpensslDeleter<free_cstring_stack>>;

struct ModuleFiles {
    fs::path dir;
    fs::path module;  // fips.so
    fs::path config;  // fipsmodule.cnf
};

std::string failure(const ModuleFiles& files, std::string_view reason) {
    std::string text = "Cannot load the OpenSSL FIPS provider from " + files.dir.string() +
                       " (looked at " + files.module.string() + " and " + files.config.string() +
                       "): ";
    text += reason;
    text += ". Install one with deploy/fips/build-provider.sh (it builds fips.so from Debian's "
            "OpenSSL source and runs openssl fipsinstall; it installs into ";
    text += kDefaultFipsModuleDir;
    text += ", or wherever WARD_FIPS_DIR points), or point security.fips_module_dir at a "
            "directory holding a validated fips.so and the fipsmodule.cnf that "
            "`openssl fipsinstall` wrote for it.";
    return text;
}

// Empty when the file is a readable regular file, otherwise what is wrong with it.
std::string file_problem(const fs::path& file) {
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (!fs::exists(status)) return file.string() + " does not exist";
    if (!fs::is_regular_file(status)) return file.string() + " is not a regular file";
    if (!std::ifstream(file, std::ios::binary)) return file.string() + " is not readable";
    return {};
}

// OpenSSL's config parser treats \ as an escape, expands $name, starts comments at # and strips
// quotes, so a directory name containing any of them would otherwise be mangled.
std::string conf_escape(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '$' || c == '#' || c == '"' || c == '\'') out += '\\';
        out += c;
    }
    return out;
}

// Parses fipsmodule.cnf on its own and returns the section holding the module MAC ("fips_sect"
// unless fipsinstall ran with -section_name). Doing this before touching the library context
// turns a damaged or foreign file into an error naming that file, instead of a provider that
// silently fails to activate.
std::string find_fips_section(const ModuleFiles& files, std::string& problem) {
    UniqueConf conf(NCONF_new(nullptr));
    long error_line = 0;
    if (!conf || NCONF_load(conf.get(), files.config.c_str(), &error_line) <= 0) {
        problem = openssl_error(files.config.string() + " does not parse (line " +
                                std::to_string(error_line) + ")");
        return {};
    }
    UniqueCstringStack names(NCONF_get_section_names(conf.get()));
    std::string found;
    ERR_set_mark();  // NCONF_get_string queues an error for every section without the key
    for (int i = 0; names && i < sk_OPENSSL_CSTRING_num(names.get()) && found.empty(); ++i) {
        const char* name = sk_OPENSSL_CSTRING_value(names.get(), i);
        if (NCONF_get_string(conf.get(), name, "module-mac") != nullptr) found = name;
    }
    ERR_pop_to_mark();
    if (!found.empty()) return found;
    problem = files.config.string() +
              " has no section with a module-mac entry, so it was not written by "
              "`openssl fipsinstall`";
    return {};
}

// The fips_module(7) configuration, with our own section names so nothing in the included file
// can collide with them. fipsmodule.cnf carries the MACs and install status but no module path,
// so the module line is added to its section here (sections may be reopened, later keys win).
// .include works from a memory BIO in 3.0: the parser opens included files by path itself.
std::string fips_config_text(const ModuleFiles& files, const std::string& fips_section) {
    const std::string section = conf_escape(fips_section);
    return "openssl_conf = ward_fips_init\n"
           ".include " + conf_escape(files.config.string()) + "\n"
           "[ward_fips_init]\n"
           "providers = ward_fips_providers\n"
           "alg_section = ward_fips_algorithms\n"
           "[ward_fips_providers]\n"
           "fips = " + section + "\n"
           "base = ward_fips_base\n"
           "[ward_fips_base]\n"
           "activate = 1\n"
           "[ward_fips_algorithms]\n"
           "default_properties = fips=yes\n"
           "[" + section + "]\n"
           "module = " + conf_escape(files.module.string()) + "\n";
}

int find_fips_provider(OSSL_PROVIDER* provider, void* found) {
    if (std::string_view(OSSL_PROVIDER_get0_name(provider)) != "fips") return 1;
    *static_cast<OSSL_PROVIDER**>(found) = provider;
    return 0;  // stop iterating
}

// Records the self tests the FIPS provider reports as failed while installed on a library
// context. A provider that fails to activate inside CONF_modules_load leaves nothing on the error
// queue (the providers module counts that as non-fatal and drops its errors), so these events are
// the only account of why. Chains to, and afterwards restores, any callback already installed.
class SelfTestRecorder {
public:
    explicit SelfTestRecorder(OSSL_LIB_CTX* ctx) : ctx_(ctx) {
        OSSL_SELF_TEST_get_callback(ctx_, &previous_, &previous_arg_);
        OSSL_SELF_TEST_set_callback(ctx_, &SelfTestRecorder::on_event, this);
    }
    ~SelfTestRecorder() { OSSL_SELF_TEST_set_callback(ctx_, previous_, previous_arg_); }
    SelfTestRecorder(const SelfTestRecorder&) = delete;
    SelfTestRecorder& operator=(const SelfTestRecorder&) = delete;

    int events() const { return events_; }
    const std::string& failures() const { return failures_; }
    bool integrity_failed() const { return integrity_failed_; }

private:
    static const char* param(const OSSL_PARAM params[], const char* key) {
        const char* value = nullptr;
        const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, key);
        return p != nullptr && OSSL_PARAM_get_utf8_string_ptr(p, &value) == 1 ? value : "?";
    }

    static int on_event(const OSSL_PARAM params[], void* arg) {
        auto* self = static_cast<SelfTestRecorder*>(arg);
        ++self->events_;
        if (std::string_view(param(params, OSSL_PROV_PARAM_SELF_TEST_PHASE)) ==
            OSSL_SELF_TEST_PHASE_FAIL) {
            const std::string_view type = param(params, OSSL_PROV_PARAM_SELF_TEST_TYPE);
            self->failures_ += self->failures_.empty() ? "" : ", ";
            self->failures_ += type;
            self->failures_ += " (";
            self->failures_ += param(params, OSSL_PROV_PARAM_SELF_TEST_DESC);
            self->failures_ += ")";
            if (type == OSSL_SELF_TEST_TYPE_MODULE_INTEGRITY ||
                type == OSSL_SELF_TEST_TYPE_INSTALL_INTEGRITY) {
                self->integrity_failed_ = true;
            }
        }
        return self->previous_ != nullptr ? self->previous_(params, self->previous_arg_) : 1;
    }

    OSSL_LIB_CTX* ctx_;
    OSSL_CALLBACK* previous_ = nullptr;
    void* previous_arg_ = nullptr;
    int events_ = 0;
    std::string failures_;
    bool integrity_failed_ = false;
};

// Why the provider did not activate, for messages.
std::string activation_failure(const ModuleFiles& files, const SelfTestRecorder& self_tests) {
    if (self_tests.integrity_failed()) {
        return "the FIPS provider refused to activate because its integrity check failed (" +
               self_tests.failures() + "): fips.so is not the module " + files.config.string() +
               " was written for, or either file was altered since";
    }
    if (!self_tests.failures().empty()) {
        return "the FIPS provider refused to activate because self tests failed: " +
               self_tests.failures();
    }
    if (self_tests.events() > 0) {
        return "the FIPS provider did not activate although none of its self tests failed";
    }
    // No self test ran, so the module itself did not load; OpenSSL dropped the loader's error,
    // so ask the dynamic loader directly.
    std::string reason = "the FIPS provider did not activate and ran no self tests";
    if (void* handle = ::dlopen(files.module.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        ::dlclose(handle);
        reason += " (fips.so loads as a shared object, so it is probably not an OpenSSL 3 "
                  "FIPS provider)";
    } else if (const char* error = ::dlerror()) {
        reason += " (";
        reason += error;
        reason += ")";
    }
    return reason;
}

// Applies the FIPS configuration to ctx (nullptr: the default context) and checks that it took;
// empty on success, otherwise the reason with OpenSSL's errors.
std::string configure(OSSL_LIB_CTX* ctx, const ModuleFiles& files, const std::string& fips_section) {
    const std::string text = fips_config_text(files, fips_section);
    UniqueBio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    UniqueConf conf(NCONF_new_ex(ctx, nullptr));
    long error_line = 0;
    if (!bio || !conf || NCONF_load_bio(conf.get(), bio.get(), &error_line) <= 0) {
        return openssl_error("the generated FIPS configuration does not parse (line " +
                             std::to_string(error_line) + ")");
    }
    SelfTestRecorder self_tests(ctx);
    if (CONF_modules_load(conf.get(), nullptr, 0) <= 0) {
        return openssl_error("applying the FIPS configuration failed");
    }
    // The providers module treats a provider that fails to activate (MAC mismatch, failed self
    // test, unloadable fips.so) as a non-fatal error, so CONF_modules_load succeeding proves
    // nothing by itself.
    if (OSSL_PROVIDER_available(ctx, "fips") != 1) {
        return openssl_error(activation_failure(files, self_tests));
    }
    if (EVP_default_properties_is_fips_enabled(ctx) != 1) {
        return openssl_error("fips=yes did not become the default property query");
    }
    // Any provider module activates under the name it is configured with, so require the one
    // called "fips" to actually serve FIPS-approved algorithms.
    EVP_MD* sha256 = EVP_MD_fetch(ctx, "SHA2-256", nullptr);
    const bool approved =
        sha256 != nullptr &&
        std::string_view(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(sha256))) == "fips";
    EVP_MD_free(sha256);
    if (!approved) {
        return openssl_error(files.module.string() + " activated but offers no FIPS-approved "
                             "SHA-256, so it is not an OpenSSL FIPS provider");
    }
    return {};
}

}  // namespace

std::string load_fips_provider(const std::filesystem::path& module_dir) {
    // Errors queued by earlier, unrelated calls must not end up in our message.
    clear_openssl_errors();

    ModuleFiles files;
    std::error_code ec;
    files.dir = fs::absolute(module_dir, ec);
    if (ec) files.dir = module_dir;
    files.dir = files.dir.lexically_normal();
    if (files.dir.has_relative_path() && !files.dir.has_filename()) {
        files.dir = files.dir.parent_path();  // drop a trailing separator
    }
    files.module = files.dir / "fips.so";
    files.config = files.dir / "fipsmodule.cnf";

    for (const fs::path* file : {&files.module, &files.config}) {
        if (std::string problem = file_problem(*file); !problem.empty()) {
            return failure(files, problem);
        }
    }
    for (unsigned char c : files.dir.string()) {
        if (c < 0x20 || c == 0x7f) {
            return failure(files, "the directory name contains a control character, which an "
                                  "OpenSSL configuration cannot express");
        }
    }

    std::string problem;
    const std::string fips_section = find_fips_section(files, problem);
    if (fips_section.empty()) return failure(files, problem);

    if (!fips_provider_active()) {
        // Dry run in a throwaway library context first. Once a configuration activates any
        // provider, OpenSSL stops falling back to its default provider, so a FIPS provider that
        // fails to activate in the default context leaves the process with no usable
        // algorithms; failing here instead leaves the default context as it was.
        {
            std::unique_ptr<OSSL_LIB_CTX, OpensslDeleter<OSSL_LIB_CTX_free>> scratch(
                OSSL_LIB_CTX_new());
            if (!scratch) return failure(files, openssl_error("OSSL_LIB_CTX_new failed"));
            if (std::string error = configure(scratch.get(), files, fips_section); !error.empty()) {
                return failure(files, error);
            }
        }
        // Apply the system configuration (openssl.cnf / OPENSSL_CONF) before ours: loaded
        // lazily at the first fetch, it would be applied on top of ours.
        OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
        if (std::string error = configure(nullptr, files, fips_section); !error.empty()) {
            return failure(files, error);
        }
    }

    OSSL_PROVIDER* fips = nullptr;
    OSSL_PROVIDER_do_all(nullptr, find_fips_provider, &fips);
    if (fips == nullptr) return failure(files, openssl_error("the FIPS provider is not loaded"));
    SelfTestRecorder self_tests(nullptr);
    if (OSSL_PROVIDER_self_test(fips) != 1) {
        const std::string failed = self_tests.failures();
        return failure(files, openssl_error("the FIPS provider's self tests failed" +
                                            (failed.empty() ? "" : ": " + failed)));
    }

    clear_openssl_errors();
    return {};
}

FipsProviderInfo fips_provider_info() {
    FipsProviderInfo out;
    OSSL_PROVIDER* fips = nullptr;
    OSSL_PROVIDER_do_all(nullptr, find_fips_provider, &fips);
    if (fips == nullptr) return out;
    char* name = nullptr;
    char* version = nullptr;
    char* build = nullptr;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_NAME, &name, 0),
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_VERSION, &version, 0),
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, &build, 0),
        OSSL_PARAM_construct_end(),
    };
    if (OSSL_PROVIDER_get_params(fips, params) == 1) {
        if (name) out.name = name;
        if (version) out.version = version;
        if (build) out.build_info = build;
    }
    clear_openssl_errors();
    return out;
}

bool fips_provider_active() {
    // Property first: OSSL_PROVIDER_available() on a context with no provider activated yet
    // would activate the fallback (default) provider as a side effect.
    ERR_set_mark();
    const bool active = EVP_default_properties_is_fips_enabled(nullptr) == 1 &&
                        OSSL_PROVIDER_available(nullptr, "fips") == 1;
    ERR_pop_to_mark();
    return active;
}

}  // namespace ward::tls
