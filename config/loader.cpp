#include "config/loader.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <cstring>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "config/values.hpp"

namespace ward::config {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxBannerBytes = 64 * 1024;

// Walks the YAML tree, filling the model and the source map, reporting into diagnostics.
class Reader {
public:
    Reader(Diagnostics& diagnostics, SourceMap& sources, fs::path base)
        : diag_(diagnostics), sources_(sources), base_(std::move(base)) {}

    void read(const YAML::Node& root, Config& config);

private:
    using Keys = std::vector<std::string_view>;

    static Mark mark_of(const YAML::Node& n) {
        const auto m = n.Mark();
        if (m.is_null()) return {};
        return {m.line + 1, m.column + 1};
    }

    void error(const YAML::Node& n, const std::string& path, std::string message) {
        diag_.error(mark_of(n), path, std::move(message));
    }

    // A mapping whose keys are all among `known`; reports unknown and repeated keys.
    bool map(const YAML::Node& n, const std::string& path, const Keys& known) {
        sources_.set(path, mark_of(n));
        if (!n.IsMap()) {
            error(n, path, "expected a mapping");
            return false;
        }
        std::set<std::string> seen;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto where = join(path, key);
            sources_.set(where, mark_of(kv.second));
            if (!seen.insert(key).second) {
                error(kv.first, where, "repeated key '" + key + "'");
                continue;
            }
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                auto message = "unknown key '" + key + "'";
                if (auto s = suggest(key, known); !s.empty()) message += "; did you mean '" + s + "'?";
                error(kv.first, where, std::move(message));
            }
        }
        return true;
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

    static std::string index(const std::string& path, std::size_t i) {
        return path + "[" + std::to_string(i) + "]";
    }

    // Calls f(node, path) for a present, non-null key of a mapping.
    template <class F>
    void field(const YAML::Node& map, std::string_view key, const std::string& path, F&& f) {
        if (!map.IsMap()) return;
        const auto n = map[std::string(key)];
        if (!n.IsDefined() || n.IsNull()) return;
        const auto where = join(path, key);
        f(n, where);
    }

    // Like field, but reports a missing key at the mapping.
    template <class F>
    void required(const YAML::Node& map, std::string_view key, const std::string& path, F&& f) {
        if (!map.IsMap()) return;
        const auto n = map[std::string(key)];
        if (!n.IsDefined() || n.IsNull()) {
            error(map, join(path, key), "missing required key '" + std::string(key) + "'");
            return;
        }
        const auto where = join(path, key);
        f(n, where);
    }

    std::optional<std::string> scalar(const YAML::Node& n, const std::string& path) {
        if (!n.IsScalar()) {
            error(n, path, "expected a single value");
            return std::nullopt;
        }
        return n.Scalar();
    }

    std::optional<std::string> text(const YAML::Node& n, const std::string& path) {
        auto s = scalar(n, path);
        if (s && s->empty()) {
            error(n, path, "must not be empty");
            return std::nullopt;
        }
        return s;
    }

    void set_string(const YAML::Node& n, const std::string& path, std::string& out) {
        if (auto s = text(n, path)) out = *s;
    }

    void set_bool(const YAML::Node& n, const std::string& path, bool& out) {
        auto s = scalar(n, path);
        if (!s) return;
        if (*s == "true") out = true;
        else if (*s == "false") out = false;
        else error(n, path, "'" + *s + "' is not a boolean (true or false)");
    }

    template <class Int>
    void set_int(const YAML::Node& n, const std::string& path, Int& out, Int min, Int max) {
        auto s = scalar(n, path);
        if (!s) return;
        long long v = 0;
        auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
        if (ec != std::errc{} || p != s->data() + s->size()) {
            error(n, path, "'" + *s + "' is not a whole number");
        } else if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
            error(n, path, "" + *s + " is out of range (" + std::to_string(min) + " to " +
                               std::to_string(max) + ")");
        } else {
            out = static_cast<Int>(v);
        }
    }

    void set_duration(const YAML::Node& n, const std::string& path, Duration& out) {
        auto s = scalar(n, path);
        if (!s) return;
        if (auto d = parse_duration(*s); !d) {
            error(n, path, "'" + *s + "' is not a duration (a number with ms, s, m or h, e.g. 10s)");
        } else if (d->count() <= 0) {
            error(n, path, "must be longer than zero");
        } else {
            out = *d;
        }
    }

    void set_size(const YAML::Node& n, const std::string& path, std::uint32_t& out, std::uint64_t min,
                  std::uint64_t max) {
        auto s = scalar(n, path);
        if (!s) return;
        auto v = parse_size(*s);
        if (!v) {
            error(n, path, "'" + *s + "' is not a size (bytes, or a number with KiB or MiB, e.g. 16KiB)");
        } else if (*v < min || *v > max) {
            error(n, path, "" + *s + " is out of range (" + format_size(min) + " to " + format_size(max) + ")");
        } else {
            out = static_cast<std::uint32_t>(*v);
        }
    }

    template <class E>
    void set_enum(const YAML::Node& n, const std::string& path, E& out, std::string_view what) {
        auto s = scalar(n, path);
        if (!s) return;
        if (auto v = parse_enum<E>(*s)) {
            out = *v;
            return;
        }
        Keys names = enum_names<E>();
        std::string list;
        for (auto name : names) list += (list.empty() ? "" : ", ") + std::string(name);
        auto message = "'" + *s + "' is not " + std::string(what) + " (" + list + ")";
        if (auto sug = suggest(*s, names); !sug.empty()) message += "; did you mean '" + sug + "'?";
        error(n, path, std::move(message));
    }

    void set_path(const YAML::Node& n, const std::string& path, FilePath& out) {
        auto s = text(n, path);
        if (!s) return;
        out.written = *s;
        fs::path p(*s);
        out.resolved = p.is_absolute() ? p : (base_ / p).lexically_normal();
    }

    // Like set_path, and the file (or folder) must exist.
    void set_existing_path(const YAML::Node& n, const std::string& path, FilePath& out, bool folder) {
        set_path(n, path, out);
        if (out.empty()) return;
        std::error_code ec;
        const auto st = fs::status(out.resolved, ec);
        if (ec || !fs::exists(st)) {
            error(n, path, std::string(folder ? "folder" : "file") + " '" + out.resolved.string() +
                               "' does not exist");
        } else if (folder && !fs::is_directory(st)) {
            error(n, path, "'" + out.resolved.string() + "' is not a folder");
        } else if (!folder && !fs::is_regular_file(st)) {
            error(n, path, "'" + out.resolved.string() + "' is not a regular file");
        }
    }

    std::vector<std::string> string_list(const YAML::Node& n, const std::string& path) {
        std::vector<std::string> out;
        if (!n.IsSequence()) {
            error(n, path, "expected a list");
            return out;
        }
        for (std::size_t i = 0; i < n.size(); ++i) {
            const auto item_path = index(path, i);
            sources_.set(item_path, mark_of(n[i]));
            if (auto s = text(n[i], item_path)) out.push_back(*s);
        }
        return out;
    }

    void set_endpoint(const YAML::Node& n, const std::string& path, Endpoint& out, bool bind) {
        auto s = text(n, path);
        if (!s) return;
        std::string why;
        auto e = parse_endpoint(*s, bind, why);
        if (!e) error(n, path, "'" + *s + "' " + why);
        else out = *e;
    }

    void read_node(const YAML::Node& n, const std::string& path, Node& out);
    void read_security(const YAML::Node& n, const std::string& path, Security& out);
    void read_limits(const YAML::Node& n, const std::string& path, Limits& out, bool listener_level);
    void read_certificates(const YAML::Node& n, const std::string& path, Config& config);
    void read_trust_stores(const YAML::Node& n, const std::string& path, Config& config);
    void read_peer_subjects(const YAML::Node& n, const std::string& path, Config& config);
    void read_contexts(const YAML::Node& n, const std::string& path, Config& config);
    void read_listeners(const YAML::Node& n, const std::string& path, Config& config);
    void read_listener(const YAML::Node& n, const std::string& path, const Config& config, Listener& out);

    void check(Config& config);

    Diagnostics& diag_;
    SourceMap& sources_;
    fs::path base_;
};

void Reader::read(const YAML::Node& root, Config& config) {
    if (!root.IsDefined() || root.IsNull()) {
        diag_.error({1, 1}, "", "the configuration is empty");
        return;
    }
    if (!map(root, "", {"node", "user", "pid_file", "security", "certificates", "trust_stores", "tls_peer_subjects",
                        "tls_contexts", "listeners", "workers", "limits", "metrics", "admin", "logging"}))
        return;
    field(root, "node", "", [&](auto& n, auto& p) { read_node(n, p, config.node); });
    field(root, "user", "", [&](auto& n, auto& p) { set_string(n, p, config.user); });
    field(root, "pid_file", "", [&](auto& n, auto& p) { set_path(n, p, config.pid_file); });
    field(root, "security", "", [&](auto& n, auto& p) { read_security(n, p, config.security); });
    field(root, "limits", "", [&](auto& n, auto& p) { read_limits(n, p, config.limits, false); });
    field(root, "workers", "", [&](auto& n, auto& p) { set_int(n, p, config.workers, 0u, 256u); });
    field(root, "certificates", "", [&](auto& n, auto& p) { read_certificates(n, p, config); });
    field(root, "trust_stores", "", [&](auto& n, auto& p) { read_trust_stores(n, p, config); });
    field(root, "tls_peer_subjects", "", [&](auto& n, auto& p) { read_peer_subjects(n, p, config); });
    field(root, "tls_contexts", "", [&](auto& n, auto& p) { read_contexts(n, p, config); });
    field(root, "listeners", "", [&](auto& n, auto& p) { read_listeners(n, p, config); });
    field(root, "metrics", "", [&](auto& n, auto& p) {
        if (!map(n, p, {"enabled", "bind"})) return;
        field(n, "enabled", p, [&](auto& v, auto& q) { set_bool(v, q, config.metrics.enabled); });
        field(n, "bind", p, [&](auto& v, auto& q) { set_endpoint(v, q, config.metrics.bind, true); });
    });
    field(root, "admin", "", [&](auto& n, auto& p) {
        // Until the admin API is served, say so instead of letting the settings look live.
        diag_.warning(mark_of(n), p, "the admin API is not served by this build yet: these settings are checked, "
                                     "but nothing listens on admin.bind");
        if (!map(n, p, {"enabled", "bind", "tls_context"})) return;
        field(n, "enabled", p, [&](auto& v, auto& q) { set_bool(v, q, config.admin.enabled); });
        field(n, "bind", p, [&](auto& v, auto& q) { set_endpoint(v, q, config.admin.bind, true); });
        field(n, "tls_context", p, [&](auto& v, auto& q) { set_string(v, q, config.admin.tls_context); });
    });
    field(root, "logging", "", [&](auto& n, auto& p) {
        if (!map(n, p, {"level"})) return;
        field(n, "level", p, [&](auto& v, auto& q) { set_enum(v, q, config.logging.level, "a log level"); });
    });
    check(config);
}

void Reader::read_node(const YAML::Node& n, const std::string& path, Node& out) {
    if (!map(n, path, {"name", "banner_file"})) return;
    field(n, "name", path, [&](auto& v, auto& p) { set_string(v, p, out.name); });
    field(n, "banner_file", path, [&](auto& v, auto& p) {
        set_existing_path(v, p, out.banner_file, false);
        if (out.banner_file.empty() || !fs::is_regular_file(out.banner_file.resolved)) return;
        std::error_code ec;
        const auto size = fs::file_size(out.banner_file.resolved, ec);
        if (ec || size > kMaxBannerBytes) {
            error(v, p, "banner file '" + out.banner_file.resolved.string() + "' is larger than " +
                            format_size(kMaxBannerBytes));
            return;
        }
        std::ifstream in(out.banner_file.resolved, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (auto bad = first_invalid_utf8(content); bad != std::string::npos) {
            error(v, p, "banner file '" + out.banner_file.resolved.string() + "' is not valid UTF-8 (byte " +
                            std::to_string(bad) + ")");
        }
    });
}

void Reader::read_security(const YAML::Node& n, const std::string& path, Security& out) {
    if (!map(n, path, {"mode", "fips_provider", "fips_module_dir", "crl_missing", "xmpp"})) return;
    field(n, "mode", path, [&](auto& v, auto& p) { set_enum(v, p, out.mode, "a security mode"); });
    field(n, "fips_provider", path,
          [&](auto& v, auto& p) { set_enum(v, p, out.fips_provider, "a FIPS provider setting"); });
    field(n, "fips_module_dir", path, [&](auto& v, auto& p) { set_path(v, p, out.fips_module_dir); });
    field(n, "crl_missing", path, [&](auto& v, auto& p) { set_enum(v, p, out.crl_missing, "a CRL policy"); });
    field(n, "xmpp", path, [&](auto& x, auto& xp) {
        if (!map(x, xp, {"client_to_node_secure", "router_to_router_secure", "web_client_secure"})) return;
        field(x, "client_to_node_secure", xp,
              [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.client_to_node_secure); });
        field(x, "router_to_router_secure", xp,
              [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.router_to_router_secure); });
        field(x, "web_client_secure", xp, [&](auto& v, auto& p) { set_bool(v, p, out.xmpp.web_client_secure); });
    });
}

void Reader::read_limits(const YAML::Node& n, const std::string& path, Limits& out, bool listener_level) {
    Keys keys{"max_connections", "handshake_timeout", "connect_timeout", "idle_timeout", "drain_timeout",
              "buffer_size"};
    if (!map(n, path, keys)) return;
    field(n, "max_connections", path,
          [&](auto& v, auto& p) { set_int(v, p, out.max_connections, 1u, 10'000'000u); });
    field(n, "handshake_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.handshake_timeout); });
    field(n, "connect_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.connect_timeout); });
    field(n, "idle_timeout", path, [&](auto& v, auto& p) { set_duration(v, p, out.idle_timeout); });
    field(n, "drain_timeout", path, [&](auto& v, auto& p) {
        // Draining is what the whole process does when it stops: one budget for every session.
        if (listener_level)
            return error(v, p, "drain_timeout applies to the whole process when ward stops; set it in the "
                               "top-level limits");
        set_duration(v, p, out.drain_timeout);
    });
    field(n, "buffer_size", path,
          [&](auto& v, auto& p) { set_size(v, p, out.buffer_size, 1024, 16 * 1024 * 1024); });
}

void Reader::read_certificates(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of certificate names to {cert, key}");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        Certificate c;
        c.name = kv.first.Scalar();
        const auto p = join(path, c.name);
        if (!seen.insert(c.name).second) {
            error(kv.first, p, "repeated certificate name '" + c.name + "'");
            continue;
        }
        if (!map(kv.second, p, {"cert", "key"})) continue;
        required(kv.second, "cert", p, [&](auto& v, auto& q) { set_existing_path(v, q, c.cert, false); });
        required(kv.second, "key", p, [&](auto& v, auto& q) { set_existing_path(v, q, c.key, false); });
        config.certificates.push_back(std::move(c));
    }
}

void Reader::read_trust_stores(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of trust store names to {dir}");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        TrustStore t;
        t.name = kv.first.Scalar();
        const auto p = join(path, t.name);
        if (!seen.insert(t.name).second) {
            error(kv.first, p, "repeated trust store name '" + t.name + "'");
            continue;
        }
        if (!map(kv.second, p, {"dir"})) continue;
        required(kv.second, "dir", p, [&](auto& v, auto& q) { set_existing_path(v, q, t.dir, true); });
        config.trust_stores.push_back(std::move(t));
    }
}

void Reader::read_peer_subjects(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsSequence()) return error(n, path, "expected a list of {subject, description}");
    sources_.set(path, mark_of(n));
    for (std::size_t i = 0; i < n.size(); ++i) {
        const auto p = index(path, i);
        PeerSubject s;
        if (!map(n[i], p, {"subject", "description"})) continue;
        required(n[i], "subject", p, [&](auto& v, auto& q) {
            set_string(v, q, s.subject);
            if (!s.subject.empty() && config.find_peer_subject(s.subject))
                error(v, q, "subject '" + s.subject + "' is listed twice");
        });
        field(n[i], "description", p, [&](auto& v, auto& q) { if (auto d = scalar(v, q)) s.description = *d; });
        if (!s.subject.empty() && !config.find_peer_subject(s.subject))
            config.tls_peer_subjects.push_back(std::move(s));
    }
}

void Reader::read_contexts(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsMap()) return error(n, path, "expected a mapping of context names to settings");
    sources_.set(path, mark_of(n));
    std::set<std::string> seen;
    for (const auto& kv : n) {
        TlsContext c;
        c.name = kv.first.Scalar();
        const auto p = join(path, c.name);
        if (!seen.insert(c.name).second) {
            error(kv.first, p, "repeated context name '" + c.name + "'");
            continue;
        }
        const auto& m = kv.second;
        if (!map(m, p, {"certificate", "trust_store", "peer_subjects", "verify_peer", "ciphers", "min_version",
                         "max_version", "groups"}))
            continue;
        field(m, "certificate", p, [&](auto& v, auto& q) { set_string(v, q, c.certificate); });
        field(m, "trust_store", p, [&](auto& v, auto& q) { set_string(v, q, c.trust_store); });
        field(m, "peer_subjects", p, [&](auto& v, auto& q) { c.peer_subjects = string_list(v, q); });
        field(m, "verify_peer", p, [&](auto& v, auto& q) { set_enum(v, q, c.verify_peer, "a verify mode"); });
        field(m, "ciphers", p, [&](auto& v, auto& q) { c.ciphers = string_list(v, q); });
        field(m, "min_version", p, [&](auto& v, auto& q) { set_enum(v, q, c.min_version, "a TLS version"); });
        field(m, "max_version", p, [&](auto& v, auto& q) { set_enum(v, q, c.max_version, "a TLS version"); });
        field(m, "groups", p, [&](auto& v, auto& q) { c.groups = string_list(v, q); });
        config.tls_contexts.push_back(std::move(c));
    }
}

void Reader::read_listeners(const YAML::Node& n, const std::string& path, Config& config) {
    if (!n.IsSequence()) return error(n, path, "expected a list of listeners");
    sources_.set(path, mark_of(n));
    for (std::size_t i = 0; i < n.size(); ++i) {
        Listener l;
        l.limits = config.limits;
        read_listener(n[i], index(path, i), config, l);
        config.listeners.push_back(std::move(l));
    }
}

void Reader::read_listener(const YAML::Node& n, const std::string& path, const Config& config, Listener& out) {
    (void)config;
    if (!map(n, path, {"name", "protocol", "bind", "backends", "tls_context", "limits", "xmpp", "sip"})) return;
    required(n, "name", path, [&](auto& v, auto& p) { set_string(v, p, out.name); });
    required(n, "protocol", path, [&](auto& v, auto& p) { set_enum(v, p, out.protocol, "a listener protocol"); });
    required(n, "bind", path, [&](auto& v, auto& p) { set_endpoint(v, p, out.bind, true); });
    field(n, "backends", path, [&](auto& v, auto& p) {
        if (!v.IsSequence()) return error(v, p, "expected a list of host:port");
        for (std::size_t i = 0; i < v.size(); ++i) {
            const auto q = index(p, i);
            sources_.set(q, mark_of(v[i]));
            Endpoint e;
            set_endpoint(v[i], q, e, false);
            if (e.port != 0) out.backends.push_back(e);
        }
    });
    field(n, "tls_context", path, [&](auto& v, auto& p) { set_string(v, p, out.tls_context); });
    field(n, "limits", path, [&](auto& v, auto& p) { read_limits(v, p, out.limits, true); });
    field(n, "xmpp", path, [&](auto& x, auto& xp) {
        out.xmpp.emplace();
        if (!map(x, xp, {"domains", "routes"})) return;
        field(x, "domains", xp, [&](auto& v, auto& p) { out.xmpp->domains = string_list(v, p); });
        field(x, "routes", xp, [&](auto& v, auto& p) {
            if (!v.IsMap()) return error(v, p, "expected a mapping of domain to host:port or { address, tls }");
            for (const auto& kv : v) {
                const auto q = join(p, kv.first.Scalar());
                sources_.set(q, mark_of(kv.second));
                XmppRoute route;
                if (kv.second.IsMap()) {
                    if (!map(kv.second, q, {"address", "tls"})) continue;
                    required(kv.second, "address", q, [&](auto& a, auto& ap) { set_endpoint(a, ap, route.address, false); });
                    field(kv.second, "tls", q, [&](auto& t, auto& tp) {
                        const std::string mode = t.IsScalar() ? t.Scalar() : std::string();
                        if (mode == "direct") route.direct_tls = true;
                        else if (mode != "starttls") error(t, tp, "expected starttls or direct");
                    });
                } else {
                    set_endpoint(kv.second, q, route.address, false);
                }
                if (route.address.port != 0) out.xmpp->routes[kv.first.Scalar()] = route;
            }
        });
    });
    field(n, "sip", path, [&](auto& s, auto& sp) {
        out.sip.emplace();
        if (!map(s, sp, {"identity_header", "max_header_size", "max_body_size", "message_timeout"})) return;
        field(s, "identity_header", sp, [&](auto& v, auto& p) {
            set_string(v, p, out.sip->identity_header);
            if (!is_sip_token(out.sip->identity_header))
                error(v, p, "'" + out.sip->identity_header + "' is not a valid SIP header name");
        });
        field(s, "max_header_size", sp,
              [&](auto& v, auto& p) { set_size(v, p, out.sip->max_header_size, 1024, 1024 * 1024); });
        field(s, "max_body_size", sp,
              [&](auto& v, auto& p) { set_size(v, p, out.sip->max_body_size, 0, 16 * 1024 * 1024); });
        field(s, "message_timeout", sp, [&](auto& v, auto& p) { set_duration(v, p, out.sip->message_timeout); });
    });
}

// Checks that span sections: references, conflicts, and what each protocol and mode needs.
void Reader::check(Config& config) {
    const auto& sec = config.security;
    if (sec.fips_provider == FipsProvider::policy_only && !at_least_fips(sec.mode)) {
        diag_.warning(config.mark("security.fips_provider"), "security.fips_provider",
                      "policy-only has no effect in standard mode");
    }

    for (const auto& c : config.tls_contexts) {
        const auto p = "tls_contexts." + c.name;
        auto at = [&](std::string_view key) { return p + "." + std::string(key); };
        if (!c.certificate.empty() && !config.find_certificate(c.certificate)) {
            std::vector<std::string_view> names;
            for (auto& x : config.certificates) names.push_back(x.name);
            auto m = "unknown certificate '" + c.certificate + "'";
            if (auto s = suggest(c.certificate, names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag_.error(config.mark(at("certificate")), at("certificate"), m);
        }
        if (!c.trust_store.empty() && !config.find_trust_store(c.trust_store)) {
            std::vector<std::string_view> names;
            for (auto& x : config.trust_stores) names.push_back(x.name);
            auto m = "unknown trust store '" + c.trust_store + "'";
            if (auto s = suggest(c.trust_store, names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag_.error(config.mark(at("trust_store")), at("trust_store"), m);
        }
        std::set<std::string> seen;
        for (std::size_t i = 0; i < c.peer_subjects.size(); ++i) {
            const auto q = index(at("peer_subjects"), i);
            const auto& s = c.peer_subjects[i];
            if (!config.find_peer_subject(s)) {
                std::vector<std::string_view> names;
                for (auto& x : config.tls_peer_subjects) names.push_back(x.subject);
                auto m = "'" + s + "' is not in tls_peer_subjects";
                if (auto sug = suggest(s, names); !sug.empty()) m += "; did you mean '" + sug + "'?";
                diag_.error(config.mark(q), q, m);
            }
            if (!seen.insert(lower(s)).second) diag_.error(config.mark(q), q, "'" + s + "' is selected twice");
        }
        if (c.verify_peer != VerifyPeer::none && c.trust_store.empty()) {
            diag_.error(config.mark(p), p,
                        "verify_peer is " + std::string(to_string(c.verify_peer)) +
                            " but no trust_store is set to verify peers against");
        }
        if (c.verify_peer == VerifyPeer::none && !c.peer_subjects.empty()) {
            diag_.error(config.mark(at("peer_subjects")), at("peer_subjects"),
                        "peer subjects are selected but verify_peer is none, so no peer certificate is checked");
        }
        if (c.min_version > c.max_version) {
            diag_.error(config.mark(at("min_version")), at("min_version"),
                        std::string(to_string(c.min_version)) + " is above max_version " +
                            std::string(to_string(c.max_version)));
        }
        if (c.min_version < TlsVersion::tls1_2) {
            if (sec.mode == SecurityMode::standard) {
                diag_.warning(config.mark(at("min_version")), at("min_version"),
                              std::string(to_string(c.min_version)) + " is obsolete (RFC 8996); use TLS1.2");
            } else {
                diag_.error(config.mark(at("min_version")), at("min_version"),
                            std::string(to_string(c.min_version)) + " is not allowed in " +
                                std::string(to_string(sec.mode)) +
                                " mode: TLS 1.0 and 1.1 need MD5-SHA1, which FIPS 140 does not approve, and "
                                "Common Criteria requires TLS 1.2 or later");
            }
        }
    }

    // Listeners: references, protocol needs, address conflicts.
    std::set<std::string> names;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        auto& l = config.listeners[i];
        const auto p = index("listeners", i);
        auto at = [&](std::string_view key) { return p + "." + std::string(key); };
        if (!l.name.empty() && !names.insert(l.name).second)
            diag_.error(config.mark(at("name")), at("name"), "listener name '" + l.name + "' is used twice");
        const bool web_plain = l.protocol == Protocol::xmpp_web && !sec.xmpp.web_client_secure;
        if (l.tls_context.empty()) {
            if (!web_plain)
                diag_.error(config.mark(p), at("tls_context"),
                            "a " + std::string(to_string(l.protocol)) + " listener needs a tls_context");
        } else if (const auto* ctx = config.find_tls_context(l.tls_context); !ctx) {
            std::vector<std::string_view> ctx_names;
            for (auto& x : config.tls_contexts) ctx_names.push_back(x.name);
            auto m = "unknown TLS context '" + l.tls_context + "'";
            if (auto s = suggest(l.tls_context, ctx_names); !s.empty()) m += "; did you mean '" + s + "'?";
            diag_.error(config.mark(at("tls_context")), at("tls_context"), m);
        } else if (!is_outbound(l.protocol) && ctx->certificate.empty()) {
            diag_.error(config.mark(at("tls_context")), at("tls_context"),
                        "context '" + ctx->name + "' has no certificate, which a listener that accepts TLS needs");
        }
        if (is_outbound(l.protocol) && !l.bind.host.empty() && !is_loopback(l.bind.host)) {
            diag_.error(config.mark(at("bind")), at("bind"),
                        "a " + std::string(to_string(l.protocol)) +
                            " listener accepts plaintext, so it must bind to a loopback address");
        }
        if (l.backends.empty() && l.protocol != Protocol::xmpp_server_outbound)
            diag_.error(config.mark(p), at("backends"), "at least one backend is needed");
        if (l.xmpp && !is_xmpp(l.protocol))
            diag_.error(config.mark(at("xmpp")), at("xmpp"),
                        "xmpp options do not apply to a " + std::string(to_string(l.protocol)) + " listener");
        if (is_xmpp(l.protocol) && l.protocol != Protocol::xmpp_server_outbound &&
            (!l.xmpp || l.xmpp->domains.empty()))
            diag_.error(config.mark(p), at("xmpp.domains"), "an XMPP listener must name the domains it serves");
        if (l.xmpp && !l.xmpp->routes.empty() && l.protocol != Protocol::xmpp_server_outbound)
            diag_.error(config.mark(at("xmpp.routes")), at("xmpp.routes"),
                        "routes apply only to xmpp-server-outbound listeners");
        if (const auto* ctx = config.find_tls_context(l.tls_context)) {
            const bool s2s_in = l.protocol == Protocol::xmpp_server || l.protocol == Protocol::xmpp_server_tls;
            if (s2s_in && sec.xmpp.router_to_router_secure && ctx->trust_store.empty())
                diag_.error(config.mark(at("tls_context")), at("tls_context"),
                            "router_to_router_secure requires mutual TLS on " + std::string(to_string(l.protocol)) +
                                " listeners: context '" + ctx->name + "' needs a trust_store");
            if (l.protocol == Protocol::xmpp_server_outbound) {
                if (ctx->certificate.empty())
                    diag_.error(config.mark(at("tls_context")), at("tls_context"),
                                "context '" + ctx->name + "' has no certificate, which ward presents to remote servers");
                if (ctx->trust_store.empty())
                    diag_.error(config.mark(at("tls_context")), at("tls_context"),
                                "context '" + ctx->name + "' has no trust_store to verify remote servers with");
            }
        }
        if (l.protocol == Protocol::xmpp_server_outbound && (!l.xmpp || l.xmpp->routes.empty()))
            diag_.error(config.mark(p), at("xmpp.routes"), "an xmpp-server-outbound listener needs routes");
        if (l.sip && l.protocol != Protocol::sip && l.protocol != Protocol::sip_outbound)
            diag_.error(config.mark(at("sip")), at("sip"),
                        "sip options do not apply to a " + std::string(to_string(l.protocol)) + " listener");
        if ((l.protocol == Protocol::sip || l.protocol == Protocol::sip_outbound) && !l.sip) {
            l.sip.emplace();
        }
        for (std::size_t j = 0; j < i; ++j) {
            const auto& o = config.listeners[j];
            if (o.bind.port == 0 || l.bind.port == 0 || o.bind.port != l.bind.port) continue;
            if (binds_overlap(o.bind.host, l.bind.host)) {
                diag_.error(config.mark(at("bind")), at("bind"),
                            l.bind.to_string() + " is already bound by listener '" + o.name + "' (" +
                                index("listeners", j) + ")");
            }
        }
    }
    if (config.metrics.enabled) {
        for (std::size_t i = 0; i < config.listeners.size(); ++i) {
            const auto& l = config.listeners[i];
            // Port 0 asks the system for a free port: it never collides.
            if (l.bind.port != 0 && l.bind.port == config.metrics.bind.port &&
                binds_overlap(l.bind.host, config.metrics.bind.host))
                diag_.error(config.mark("metrics.bind"), "metrics.bind",
                            config.metrics.bind.to_string() + " is already bound by listener '" + l.name + "'");
        }
    }
    if (config.admin.enabled) {
        if (config.admin.tls_context.empty())
            diag_.error(config.mark("admin"), "admin.tls_context", "the admin API needs a tls_context");
        else if (!config.find_tls_context(config.admin.tls_context))
            diag_.error(config.mark("admin.tls_context"), "admin.tls_context",
                        "unknown TLS context '" + config.admin.tls_context + "'");
    }
}

}  // namespace

LoadResult load_string(std::string_view text, const std::filesystem::path& file) {
    LoadResult result{std::nullopt, std::nullopt, Diagnostics(file.string())};
    auto sources = std::make_shared<SourceMap>();
    Config config;
    config.file = file;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        result.diagnostics.error({e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax: " + e.msg);
        return result;
    }
    fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
    config.sources = sources;
    Reader(result.diagnostics, *sources, base).read(root, config);
    if (!result.diagnostics.has_errors()) result.config = config;
    result.partial = std::move(config);
    return result;
}

LoadResult load_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        LoadResult result{std::nullopt, std::nullopt, Diagnostics(file.string())};
        result.diagnostics.error({}, "", "cannot read the configuration file: " + std::string(std::strerror(errno)));
        return result;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load_string(ss.str(), file);
}

}  // namespace ward::config
