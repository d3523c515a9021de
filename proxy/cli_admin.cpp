// SPDX-License-Identifier: Apache-2.0
#include "proxy/cli_admin.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/loader.hpp"
#include "proxy/cli.hpp"
#include "proxy/ops/accounts.hpp"
#include "proxy/ops/audit.hpp"
#include "proxy/ops/secrets.hpp"
#include "tls/x509.hpp"

namespace ward::proxy {

namespace json = boost::json;

namespace {

constexpr const char* kAdminUsage = R"(usage: ward admin user add -c FILE NAME --role admin|operator|auditor [--password-stdin | --generate]
       ward admin user passwd -c FILE NAME [--password-stdin | --generate]
       ward admin user del -c FILE NAME
       ward admin user list -c FILE
       ward admin status --url https://HOST:PORT --user NAME [--ca CA.pem] [--cert C.pem --key K.pem]

user    manages the accounts in FILE's admin.users_file (created mode 0600), offline; passwords
        follow the security mode's rules (enhanced and common-criteria: 14 characters, three
        classes, none of the last 24, a day between changes). The password is asked on the
        terminal, read from stdin with --password-stdin, or made up and printed once with
        --generate. Roles: admin (everything), operator (status, restart, reload), auditor
        (read settings and the audit log).
status  logs in to a running ward's admin API: prints the login banner, asks the password,
        prints the banner again after login, then the listeners (the Control Center), and logs
        out. --ca names the CA that signed the admin certificate.
)";

constexpr const char* kAuditUsage = R"(usage: ward audit verify FILE

Checks the SHA-256 chain of the admin audit log FILE and names the first broken record.
Exit status: 0 when the chain is whole, 1 when a record was changed, removed or inserted.
)";

struct Options {
    std::vector<std::string> words;
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
};

Options parse(const std::vector<std::string>& args, const std::set<std::string>& with_value, std::string& error) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a.size() > 1 && a[0] == '-') {
            if (with_value.count(a)) {
                if (i + 1 >= args.size()) {
                    error = a + " needs a value";
                    return o;
                }
                o.values[a] = args[++i];
            } else {
                o.flags.insert(a);
            }
        } else {
            o.words.push_back(a);
        }
    }
    return o;
}

std::string read_secret(const std::string& prompt) {
    std::string line;
    if (::isatty(STDIN_FILENO)) {
        // Echo off before the prompt shows: whatever is typed once it is seen is not echoed.
        termios old{};
        ::tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        std::cerr << prompt << std::flush;
        std::getline(std::cin, line);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::cerr << "\n";
    } else {
        std::getline(std::cin, line);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

// 20 characters from all four classes: passes every mode's rules.
std::string generated_password() {
    static constexpr std::string_view kSets[] = {"abcdefghijkmnopqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789",
                                                 "-_.!%+="};
    const auto bytes = ops::random_bytes(20);
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const auto& set = kSets[i % 4];
        out += set[static_cast<unsigned char>(bytes[i]) % set.size()];
    }
    return out;
}

std::optional<config::Config> load_config(const std::string& file) {
    auto loaded = config::load_file(file);
    if (!loaded.config) {
        std::cerr << loaded.diagnostics.to_string();
        std::cerr << file << ": configuration is not valid\n";
        return std::nullopt;
    }
    if (loaded.config->admin.users_file.empty()) {
        std::cerr << "ward admin: " << file << " sets no admin.users_file\n";
        return std::nullopt;
    }
    return std::move(*loaded.config);
}

int cmd_user(const Options& o) {
    if (o.words.size() < 2) return std::cerr << kAdminUsage, kExitUsage;
    const auto& verb = o.words[1];
    auto c = o.values.find("-c");
    if (c == o.values.end()) return std::cerr << "ward admin user: -c FILE is required\n\n" << kAdminUsage, kExitUsage;
    auto config = load_config(c->second);
    if (!config) return kExitConfig;
    const auto& file = config->admin.users_file.resolved;
    auto store = ops::AccountStore::load(file, true);
    if (!store) return std::cerr << "ward admin user: " << store.error() << '\n', kExitConfig;
    const auto policy = ops::credential_policy(*config);
    const auto now = ops::SystemClock::now();

    if (verb == "list") {
        for (const auto& a : store->accounts())
            std::cout << a.name << "  " << ops::to_string(a.role) << "  created " << ops::format_time(a.created)
                      << "  password changed " << ops::format_time(a.changed)
                      << (ops::password_expired(policy, a, now) ? "  (expired: change at next login)" : "") << '\n';
        return kExitOk;
    }
    if (o.words.size() < 3) return std::cerr << "ward admin user " << verb << ": NAME is required\n", kExitUsage;
    const auto& name = o.words[2];
    if (verb == "del") {
        if (!store->remove(name)) return std::cerr << "ward admin user del: no account '" << name << "'\n", kExitFailure;
        if (auto s = store->save(file); !s) return std::cerr << "ward admin user del: " << s.error() << '\n', kExitFailure;
        std::cout << "deleted account '" << name << "' from " << file.string() << '\n';
        return kExitOk;
    }
    if (verb != "add" && verb != "passwd")
        return std::cerr << "ward admin user: unknown command '" << verb << "'\n\n" << kAdminUsage, kExitUsage;
    ops::Account* account = store->find(name);
    if (verb == "add" && account) return std::cerr << "ward admin user add: account '" << name << "' already exists\n", kExitFailure;
    if (verb == "passwd" && !account) return std::cerr << "ward admin user passwd: no account '" << name << "'\n", kExitFailure;
    if (verb == "add" && !ops::is_account_name(name))
        return std::cerr << "ward admin user add: '" << name
                         << "' is not an account name (1 to 64 letters, digits, '.', '_', '-')\n",
               kExitUsage;
    std::optional<ops::Role> role;
    if (verb == "add") {
        auto r = o.values.find("--role");
        if (r == o.values.end()) return std::cerr << "ward admin user add: --role admin|operator|auditor is required\n", kExitUsage;
        role = ops::parse_role(r->second);
        if (!role) return std::cerr << "ward admin user add: unknown role '" << r->second << "'\n", kExitUsage;
    }
    const bool generate = o.flags.count("--generate") > 0;
    std::string password;
    if (generate) {
        password = generated_password();
    } else if (o.flags.count("--password-stdin")) {
        std::getline(std::cin, password);
        if (!password.empty() && password.back() == '\r') password.pop_back();
    } else {
        password = read_secret("password for " + name + ": ");
        if (read_secret("again: ") != password) return std::cerr << "ward admin user: the passwords differ\n", kExitFailure;
    }
    if (auto why = ops::check_new_password(policy, account, password, now))
        return std::cerr << "ward admin user " << verb << ": " << *why << '\n', kExitFailure;
    if (verb == "add") {
        ops::Account a;
        a.name = name;
        a.role = *role;
        a.created = now;
        if (auto s = store->add(std::move(a)); !s) return std::cerr << "ward admin user add: " << s.error() << '\n', kExitFailure;
        account = store->find(name);
    }
    if (auto s = store->set_password(*account, password, config->admin.password_iterations, now); !s)
        return std::cerr << "ward admin user: " << s.error() << '\n', kExitFailure;
    if (auto s = store->save(file); !s) return std::cerr << "ward admin user: " << s.error() << '\n', kExitFailure;
    std::cout << (verb == "add" ? "added account '" + name + "' (" + std::string(ops::to_string(*role)) + ")"
                                : "changed the password of '" + name + "'")
              << " in " << file.string() << '\n';
    if (generate) std::cout << "password (shown once): " << password << '\n';
    return kExitOk;
}

// --- a small HTTPS client for `ward admin status` ---------------------------------------------

struct Response {
    int status = 0;
    std::string body;
};

class Client {
public:
    bool connect(const std::string& url, const Options& o, std::string& error) {
        const std::string prefix = "https://";
        if (url.rfind(prefix, 0) != 0) return error = "the URL must start with https://", false;
        auto rest = url.substr(prefix.size());
        rest = rest.substr(0, rest.find('/'));
        const auto colon = rest.rfind(':');
        if (colon == std::string::npos) return error = "the URL needs a port", false;
        host_ = rest.substr(0, colon);
        port_ = rest.substr(colon + 1);
        if (host_.size() > 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
        host_header_ = rest;
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        auto ca = o.values.find("--ca");
        if (ca != o.values.end() ? SSL_CTX_load_verify_locations(ctx_, ca->second.c_str(), nullptr) != 1
                                 : SSL_CTX_set_default_verify_paths(ctx_) != 1)
            return error = "cannot load the CA certificates", false;
        auto cert = o.values.find("--cert"), key = o.values.find("--key");
        if (cert != o.values.end() && key != o.values.end()) {
            if (SSL_CTX_use_certificate_chain_file(ctx_, cert->second.c_str()) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx_, key->second.c_str(), SSL_FILETYPE_PEM) != 1)
                return error = "cannot load the client certificate or key", false;
        }
        return true;
    }

    Response request(const std::string& method, const std::string& path, const std::string& body, std::string& error) {
        Response r;
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0 || !res)
            return error = "cannot resolve " + host_, r;
        int fd = ::socket(res->ai_family, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            ::freeaddrinfo(res);
            if (fd >= 0) ::close(fd);
            return error = "cannot connect to " + host_header_ + ": " + std::strerror(errno), r;
        }
        ::freeaddrinfo(res);
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, fd);
        // The certificate must name what the URL names: an address (iPAddress SAN) or a host.
        in6_addr probe{};
        const bool literal = ::inet_pton(AF_INET, host_.c_str(), &probe) == 1 || ::inet_pton(AF_INET6, host_.c_str(), &probe) == 1;
        if (literal) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str());
        else SSL_set1_host(ssl, host_.c_str());
        if (SSL_connect(ssl) != 1) {
            char buf[256];
            ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
            SSL_free(ssl);
            ::close(fd);
            return error = std::string("TLS handshake failed: ") + buf, r;
        }
        // An address is named by an iPAddress entry and nothing else (wolfSSL matches it as text
        // against every name); a host by ward's own RFC 6125 check too (the library's can be
        // skipped where a verify callback overrides an error).
        if (literal && !tls::names_ip_address(SSL_get0_peer_certificate(ssl), host_)) {
            SSL_free(ssl);
            ::close(fd);
            return error = "the admin API's certificate has no iPAddress " + host_, r;
        }
        if (!literal && !tls::names_dns_host(SSL_get0_peer_certificate(ssl), host_)) {
            SSL_free(ssl);
            ::close(fd);
            return error = "the admin API's certificate does not name " + host_, r;
        }
        std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host_header_ + "\r\nConnection: close\r\n";
        if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
        if (!body.empty()) req += "Content-Type: application/json\r\n";
        req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        SSL_write(ssl, req.data(), static_cast<int>(req.size()));
        std::string in;
        char buf[4096];
        for (;;) {
            const int n = SSL_read(ssl, buf, sizeof buf);
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
        }
        SSL_free(ssl);
        ::close(fd);
        ERR_clear_error();
        const auto head_end = in.find("\r\n\r\n");
        if (in.size() < 12 || head_end == std::string::npos) return error = "no HTTP answer", r;
        r.status = std::atoi(in.substr(9, 3).c_str());
        r.body = in.substr(head_end + 4);
        return r;
    }

    void set_token(std::string t) { token_ = std::move(t); }
    ~Client() {
        if (ctx_) SSL_CTX_free(ctx_);
    }

private:
    SSL_CTX* ctx_ = nullptr;
    std::string host_, port_, host_header_, token_;
};

std::string error_of(const Response& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (!ec && v.is_object())
        if (const auto* e = v.as_object().if_contains("error"); e && e->is_string()) return std::string(e->as_string());
    return r.body;
}

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

void print_banner(const std::string& banner, const char* when) {
    std::cout << "----- login banner (" << when << ") -----\n" << banner;
    if (!banner.empty() && banner.back() != '\n') std::cout << '\n';
    std::cout << "-----\n" << std::flush;
}

int cmd_status(const Options& o) {
    auto url = o.values.find("--url");
    auto user = o.values.find("--user");
    if (url == o.values.end() || user == o.values.end())
        return std::cerr << "ward admin status: --url and --user are required\n\n" << kAdminUsage, kExitUsage;
    Client client;
    std::string error;
    if (!client.connect(url->second, o, error)) return std::cerr << "ward admin: " << error << '\n', kExitUsage;
    auto banner = client.request("GET", "/api/v1/banner", "", error);
    if (!error.empty()) return std::cerr << "ward admin: " << error << '\n', kExitUnavailable;
    print_banner(banner.body, "before login");
    const auto password = read_secret("password for " + user->second + ": ");
    const auto login_body = json::serialize(json::object{{"name", user->second}, {"password", password}});
    auto login = client.request("POST", "/api/v1/session", login_body, error);
    if (!error.empty()) return std::cerr << "ward admin: " << error << '\n', kExitUnavailable;
    if (login.status != 201) return std::cerr << "ward admin: login refused: " << error_of(login) << '\n', kExitFailure;
    auto session = json::parse(login.body).as_object();
    client.set_token(std::string(session.at("token").as_string()));
    print_banner(std::string(session.at("banner").as_string()), "after login");
    std::cout << "logged in as " << str(session.at("account")) << " (" << str(session.at("role")) << ")\n";
    if (session.at("password_change_required").as_bool())
        std::cout << "the password has expired: change it before anything else\n";
    auto listeners = client.request("GET", "/api/v1/listeners", "", error);
    int status = kExitOk;
    if (listeners.status == 200) {
        auto v = json::parse(listeners.body).as_object();
        std::cout << "node " << str(v.at("node")) << ", configuration generation " << v.at("generation") << '\n';
        for (const auto& l : v.at("listeners").as_array()) {
            const auto& x = l.as_object();
            std::cout << "  " << str(x.at("name")) << "  " << str(x.at("protocol")) << "  " << str(x.at("bind"))
                      << "  active " << x.at("active_sessions") << "  handshakes "
                      << x.at("handshakes") << "  refusals " << x.at("refusals") << '\n';
        }
    } else {
        std::cout << "listeners: " << error_of(listeners) << '\n';
        status = listeners.status == 403 ? kExitOk : kExitFailure;
    }
    client.request("DELETE", "/api/v1/session", "", error);
    return status;
}

}  // namespace

int cmd_admin(const std::vector<std::string>& args) {
    std::string error;
    auto o = parse(args, {"-c", "--role", "--url", "--user", "--ca", "--cert", "--key"}, error);
    if (!error.empty()) return std::cerr << "ward admin: " << error << "\n\n" << kAdminUsage, kExitUsage;
    if (o.flags.count("--help") || o.flags.count("-h")) return std::cout << kAdminUsage, kExitOk;
    if (o.words.empty()) return std::cerr << kAdminUsage, kExitUsage;
    if (o.words[0] == "user") return cmd_user(o);
    if (o.words[0] == "status") {
        try {
            return cmd_status(o);
        } catch (const std::exception& e) {
            // The server's answers are not trusted to be what they should.
            std::cerr << "ward admin: unexpected answer from the admin API: " << e.what() << '\n';
            return kExitFailure;
        }
    }
    return std::cerr << "ward admin: unknown command '" << o.words[0] << "'\n\n" << kAdminUsage, kExitUsage;
}

int cmd_audit(const std::vector<std::string>& args) {
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) return std::cout << kAuditUsage, kExitOk;
    if (args.size() != 2 || args[0] != "verify") return std::cerr << kAuditUsage, kExitUsage;
    const auto v = ops::verify_audit(args[1]);
    if (v.ok) {
        std::cout << args[1] << ": " << v.records << " record" << (v.records == 1 ? "" : "s") << ", chain intact\n";
        return kExitOk;
    }
    std::cout << args[1] << ":" << v.broken_line << ": broken: " << v.why << " (" << v.records
              << " record" << (v.records == 1 ? "" : "s") << " before it are intact)\n";
    return kExitFailure;
}

}  // namespace ward::proxy
