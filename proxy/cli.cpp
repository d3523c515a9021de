// SPDX-License-Identifier: Apache-2.0
#include "proxy/cli.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>

#include "config/loader.hpp"
#include "config/writer.hpp"
#include "proxy/cli_admin.hpp"
#include "proxy/cli_cluster.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/engine/server.hpp"
#include "proxy/engine/snapshot.hpp"
#include "proxy/fronts/fronts.hpp"
#include "proxy/ops/cert_import.hpp"
#include "proxy/ops/reload.hpp"
#include "tls/cipher_catalog.hpp"
#include "tls/library.hpp"
#include "proxy/ops/pki.hpp"
#include "tls/tls_snapshot.hpp"

namespace ward::proxy {

namespace {

constexpr std::string_view kVersion = "0.1.0";

constexpr std::string_view kUsage = R"(usage: ward <command> [options]

commands:
  check   validate a configuration (every problem, with file:line:col)
  run     start the proxy
  reload  ask the running proxy to reload its configuration
  pki     make a development PKI or issue certificates
  cert    import a peer certificate into a trust store
  ciphers list the TLS ciphers OpenSSL offers and which each security mode allows
  admin   manage admin accounts; log in to a running ward's admin API
  audit   verify the admin audit log's hash chain
  cluster show the cluster's nodes as etcd holds them

`ward <command> --help` describes each command. `ward --version` prints the version and the TLS library.
)";

constexpr std::string_view kCheckUsage = R"(usage: ward check -c FILE

Loads FILE, checks every setting, reference, file, certificate, key and cipher under the
configured security mode (loading the FIPS provider in fips modes), and prints every problem
as file:line:col: error: path: message.
Exit status: 0 when the configuration is valid, 78 when it is not.
)";

constexpr std::string_view kRunUsage = R"(usage: ward run -c FILE

Starts ward in the foreground with the configuration in FILE: binds every listener (then drops
privileges to `user`), runs one worker per core, logs to stderr. SIGHUP (or `ward reload`)
reloads FILE without dropping connections; SIGTERM or SIGINT stops accepting, drains for up to
limits.drain_timeout, then closes.
)";

constexpr std::string_view kPkiUsage = R"(usage: ward pki init DIR [--domain DOMAIN] [--rsa [BITS]] [--force]
       ward pki issue --ca-dir DIR --cn NAME --out PREFIX [options]

init   writes a development CA and node certificates (xmpp, sip, admin) to DIR:
       ca.pem ca.key xmpp.pem xmpp.key sip.pem sip.key admin.pem admin.key trust/ca.pem
       (ECDSA P-256 unless --rsa; default domain ward.test; 20 years; serverAuth+clientAuth).
issue  issues one certificate signed by DIR/ca.pem + DIR/ca.key, written to PREFIX.pem and
       PREFIX.key. Options:
         --cn NAME          subject CN (repeat for several CNs)
         --dns NAME         SAN dNSName (repeatable)
         --ip ADDRESS       SAN iPAddress (repeatable)
         --xmpp-addr JID    SAN XmppAddr (repeatable)
         --srv NAME         SAN SRV-ID such as _xmpp-server.example.org (repeatable)
         --server-only | --client-only   extended key usage (default: both)
         --rsa BITS | --ec CURVE         key (default: EC P-256)
         --days N           validity (default 7300)
         --ca               issue an intermediate CA certificate
)";

constexpr std::string_view kCertUsage = R"(usage: ward cert import -c FILE --store NAME [--description TEXT] CERT.pem

Copies CERT.pem into trust store NAME, adds its subject CN to tls_peer_subjects and to every
TLS context that uses the store, writes FILE atomically (keeping FILE.prev) and prints what
changed. Importing the same certificate again changes nothing. A certificate the security
mode forbids is refused with the reason.
)";

// A tiny option reader: positional words and --name [value] pairs, in order.
class Args {
public:
    Args(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) words_.emplace_back(argv[i]);
    }
    bool help() const {
        for (auto w : words_)
            if (w == "--help" || w == "-h") return true;
        return false;
    }
    bool empty() const { return pos_ >= words_.size(); }
    std::string_view peek() const { return words_[pos_]; }
    std::string_view next() { return words_[pos_++]; }
    std::optional<std::string> value(std::string_view option, std::string& error) {
        if (empty() || (peek().size() > 1 && peek()[0] == '-' && peek() != "-")) {
            error = std::string(option) + " needs a value";
            return std::nullopt;
        }
        return std::string(next());
    }

private:
    std::vector<std::string_view> words_;
    std::size_t pos_ = 0;
};

int usage_error(std::string_view message, std::string_view usage) {
    std::cerr << "ward: " << message << "\n\n" << usage;
    return kExitUsage;
}

// In file order, as a compiler prints them; those without a position last.
void print_diagnostics(const config::Diagnostics& d) {
    auto list = d.all();
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        const auto key = [](const config::Diagnostic& x) {
            return std::pair(x.mark.line == 0 ? INT_MAX : x.mark.line, x.mark.column);
        };
        return key(a) < key(b);
    });
    for (const auto& x : list) std::cerr << config::format(x) << '\n';
}

// Options shared by commands that take only -c FILE.
std::optional<std::string> config_option(Args& args, std::string_view usage, int& status) {
    std::optional<std::string> file;
    std::string error;
    while (!args.empty()) {
        auto w = args.next();
        if (w == "-c" || w == "--config") {
            file = args.value(w, error);
            if (!file) break;
        } else {
            error = "unexpected argument '" + std::string(w) + "'";
            break;
        }
    }
    if (error.empty() && !file) error = "missing -c FILE";
    if (!error.empty()) {
        status = usage_error(error, usage);
        return std::nullopt;
    }
    return file;
}

// Loads, activates the security mode, builds every TLS context; prints the diagnostics.
std::shared_ptr<const Snapshot> load_and_check(const std::string& file) {
    config::Diagnostics diagnostics(file);
    auto snapshot = build_snapshot(file, diagnostics);
    print_diagnostics(diagnostics);
    return snapshot;
}

int cmd_check(Args& args) {
    if (args.help()) return std::cout << kCheckUsage, kExitOk;
    int status = kExitOk;
    auto file = config_option(args, kCheckUsage, status);
    if (!file) return status;
    auto snapshot = load_and_check(*file);
    if (!snapshot) {
        std::cerr << *file << ": configuration is not valid\n";
        return kExitConfig;
    }
    const auto& c = snapshot->config;
    std::cout << *file << ": configuration is valid (" << config::to_string(c.security.mode) << " mode, "
              << c.tls_contexts.size() << " TLS context" << (c.tls_contexts.size() == 1 ? "" : "s") << ", "
              << c.listeners.size() << " listener" << (c.listeners.size() == 1 ? "" : "s") << ")\n";
    return kExitOk;
}

// Writes the pid file (atomically) and removes it when ward exits.
class PidFile {
public:
    explicit PidFile(std::filesystem::path path) : path_(std::move(path)) {}
    bool write() {
        if (path_.empty()) return true;
        if (auto s = config::save_text_atomically(path_, std::to_string(::getpid()) + "\n"); !s) {
            std::cerr << "ward run: cannot write the pid file: " << s.error() << '\n';
            return false;
        }
        std::error_code ec;
        std::filesystem::remove(std::filesystem::path(path_.string() + ".prev"), ec);
        return true;
    }
    ~PidFile() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove(path_, ec);
    }

private:
    std::filesystem::path path_;
};

int cmd_run(Args& args) {
    if (args.help()) return std::cout << kRunUsage, kExitOk;
    int status = kExitOk;
    auto file = config_option(args, kRunUsage, status);
    if (!file) return status;
    // Logging first, at info, so that everything start-up says is seen; the configured level
    // applies once the configuration is loaded.
    init_logging(config::LogLevel::info);
    auto snapshot = load_and_check(*file);
    if (!snapshot) {
        std::cerr << *file << ": configuration is not valid; not starting\n";
        return kExitConfig;
    }
    set_log_level(snapshot->config.logging.level);
    // Signals are handled by the control loop: block them before any thread starts so that
    // workers inherit the mask and never take one.
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    Server server(*file);
    PidFile pid(snapshot->config.pid_file.resolved);
    if (!server.start(snapshot)) return kExitUnavailable;
    if (!pid.write()) return kExitFailure;
    server.handle_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return server.run();
}

constexpr std::string_view kReloadUsage = R"(usage: ward reload -c FILE

Checks FILE, then asks the running ward (the pid in FILE's pid_file) to reload it (SIGHUP).
New connections use the new configuration; established ones keep theirs. A configuration that
does not validate is not sent: the diagnostics are printed and the exit status is 78.
)";

int cmd_reload(Args& args) {
    if (args.help()) return std::cout << kReloadUsage, kExitOk;
    int status = kExitOk;
    auto file = config_option(args, kReloadUsage, status);
    if (!file) return status;
    // The same check as `ward check` (contexts built, ciphers, keys, files): a configuration the
    // running ward would refuse is never signalled.
    auto snapshot = load_and_check(*file);
    if (!snapshot) {
        std::cerr << "ward reload: " << *file << ": configuration is not valid; nothing was signalled\n";
        return kExitConfig;
    }
    const auto& pid_path = snapshot->config.pid_file.resolved;
    if (pid_path.empty()) {
        std::cerr << "ward reload: " << *file << " sets no pid_file, so the running ward cannot be found\n";
        return kExitConfig;
    }
    auto pid = ops::signal_reload(pid_path);
    if (!pid) {
        std::cerr << "ward reload: " << pid.error() << '\n';
        return kExitUnavailable;
    }
    std::cout << "sent SIGHUP to ward (pid " << *pid << "); its log says whether the reload took effect\n";
    return kExitOk;
}

bool parse_int(std::string_view s, int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

void print_written(const std::vector<ops::WrittenFile>& files) {
    for (const auto& f : files) std::cout << "wrote " << f.path.string() << " (" << f.what << ")\n";
}

int cmd_pki(Args& args) {
    if (args.help() || args.empty()) return std::cout << kPkiUsage, args.help() ? kExitOk : kExitUsage;
    const auto sub = args.next();
    std::string error;
    if (sub == "init") {
        ops::PkiInitOptions options;
        std::optional<std::string> dir;
        while (!args.empty() && error.empty()) {
            auto w = args.next();
            if (w == "--domain") {
                if (auto v = args.value(w, error)) options.domain = *v;
            } else if (w == "--force") {
                options.force = true;
            } else if (w == "--rsa") {
                options.key.kind = ops::KeySpec::Kind::rsa;
                if (!args.empty() && args.peek()[0] != '-' && parse_int(args.peek(), options.key.rsa_bits)) args.next();
            } else if (!w.empty() && w[0] == '-') {
                error = "unknown option '" + std::string(w) + "'";
            } else if (!dir) {
                dir = std::string(w);
            } else {
                error = "unexpected argument '" + std::string(w) + "'";
            }
        }
        if (error.empty() && !dir) error = "missing DIR";
        if (!error.empty()) return usage_error(error, kPkiUsage);
        auto written = ops::pki_init(*dir, options);
        if (!written) {
            std::cerr << "ward pki init: " << written.error() << '\n';
            return kExitFailure;
        }
        print_written(*written);
        return kExitOk;
    }
    if (sub == "issue") {
        ops::CertSpec spec;
        std::optional<std::string> ca_dir, out;
        while (!args.empty() && error.empty()) {
            auto w = args.next();
            auto take = [&](std::vector<std::string>& list) {
                if (auto v = args.value(w, error)) list.push_back(*v);
            };
            if (w == "--ca-dir") {
                ca_dir = args.value(w, error);
            } else if (w == "--out") {
                out = args.value(w, error);
            } else if (w == "--cn") {
                take(spec.common_names);
            } else if (w == "--dns") {
                take(spec.dns_names);
            } else if (w == "--ip") {
                take(spec.ip_addresses);
            } else if (w == "--xmpp-addr") {
                take(spec.xmpp_addrs);
            } else if (w == "--srv") {
                take(spec.srv_names);
            } else if (w == "--server-only") {
                spec.client_auth = false;
            } else if (w == "--client-only") {
                spec.server_auth = false;
            } else if (w == "--ca") {
                spec.is_ca = true;
                spec.server_auth = spec.client_auth = false;
            } else if (w == "--rsa") {
                spec.key.kind = ops::KeySpec::Kind::rsa;
                if (auto v = args.value(w, error); v && !parse_int(*v, spec.key.rsa_bits)) error = "--rsa takes a number of bits";
            } else if (w == "--ec") {
                spec.key.kind = ops::KeySpec::Kind::ec;
                if (auto v = args.value(w, error)) spec.key.curve = *v;
            } else if (w == "--days") {
                int days = 0;
                if (auto v = args.value(w, error); v && (!parse_int(*v, days) || days <= 0)) error = "--days takes a positive number";
                else spec.not_after = std::chrono::hours(24) * days;
            } else {
                error = "unknown argument '" + std::string(w) + "'";
            }
        }
        if (error.empty() && !ca_dir) error = "missing --ca-dir DIR";
        if (error.empty() && !out) error = "missing --out PREFIX";
        if (error.empty() && spec.common_names.empty()) error = "missing --cn NAME";
        if (!error.empty()) return usage_error(error, kPkiUsage);
        const std::filesystem::path ca(*ca_dir);
        auto written = ops::pki_issue(ca / "ca.pem", ca / "ca.key", spec, *out + ".pem", *out + ".key");
        if (!written) {
            std::cerr << "ward pki issue: " << written.error() << '\n';
            return kExitFailure;
        }
        print_written(*written);
        return kExitOk;
    }
    return usage_error("unknown pki command '" + std::string(sub) + "'", kPkiUsage);
}

int cmd_cert(Args& args) {
    if (args.help() || args.empty()) return std::cout << kCertUsage, args.help() ? kExitOk : kExitUsage;
    const auto sub = args.next();
    if (sub != "import") return usage_error("unknown cert command '" + std::string(sub) + "'", kCertUsage);
    ops::ImportRequest request;
    std::string error;
    std::optional<std::string> file, store, cert;
    while (!args.empty() && error.empty()) {
        auto w = args.next();
        if (w == "-c" || w == "--config") file = args.value(w, error);
        else if (w == "--store") store = args.value(w, error);
        else if (w == "--description") {
            if (auto v = args.value(w, error)) request.description = *v;
        } else if (!w.empty() && w[0] == '-') error = "unknown option '" + std::string(w) + "'";
        else if (!cert) cert = std::string(w);
        else error = "unexpected argument '" + std::string(w) + "'";
    }
    if (error.empty() && !file) error = "missing -c FILE";
    if (error.empty() && !store) error = "missing --store NAME";
    if (error.empty() && !cert) error = "missing CERT.pem";
    if (!error.empty()) return usage_error(error, kCertUsage);
    request.config_file = *file;
    request.store = *store;
    request.certificate = *cert;
    config::Diagnostics diagnostics(*file);
    auto report = ops::import_certificate(request, diagnostics);
    print_diagnostics(diagnostics);
    if (!report) {
        std::cerr << "ward cert import: " << report.error() << '\n';
        return diagnostics.has_errors() ? kExitConfig : kExitFailure;
    }
    for (const auto& line : report->changes) std::cout << line << '\n';
    std::cout << report->summary << '\n';
    return kExitOk;
}

int cmd_ciphers(Args& args) {
    if (args.help()) {
        std::cout << "usage: ward ciphers\n\nLists every cipher the linked OpenSSL offers, by OpenSSL and IANA name,\n"
                     "with the security modes that allow it.\n";
        return kExitOk;
    }
    const auto& catalog = tls::CipherCatalog::instance();
    for (const auto& c : catalog.all()) {
        std::cout << (c.tls13 ? "TLS1.3 " : "TLS1.2 ") << c.openssl_name << "  " << c.iana_name << "  [";
        bool first = true;
        for (auto m : {config::SecurityMode::standard, config::SecurityMode::fips, config::SecurityMode::enhanced,
                       config::SecurityMode::common_criteria}) {
            if (!tls::CipherCatalog::allowed(c, m)) continue;
            std::cout << (first ? "" : " ") << config::to_string(m);
            first = false;
        }
        std::cout << "]\n";
    }
    return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
    register_fronts();  // what each listener kind is served by: check and run both need them
    if (argc < 2) return usage_error("missing command", kUsage);
    const std::string_view command = argv[1];
    Args args(argc, argv, 2);
    if (command == "--help" || command == "-h" || command == "help") return std::cout << kUsage, kExitOk;
    if (command == "--version") return std::cout << "ward " << kVersion << "\nTLS: " << tls::tls_library() << '\n', kExitOk;
    if (command == "check") return cmd_check(args);
    if (command == "run") return cmd_run(args);
    if (command == "reload") return cmd_reload(args);
    if (command == "pki") return cmd_pki(args);
    if (command == "cert") return cmd_cert(args);
    if (command == "ciphers") return cmd_ciphers(args);
    if (command == "cluster") return cmd_cluster(std::vector<std::string>(argv + 2, argv + argc));
    if (command == "admin" || command == "audit") {
        std::vector<std::string> rest(argv + 2, argv + argc);
        return command == "admin" ? cmd_admin(rest) : cmd_audit(rest);
    }
    return usage_error("unknown command '" + std::string(command) + "'", kUsage);
}

}  // namespace ward::proxy
