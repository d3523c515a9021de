// SPDX-License-Identifier: Apache-2.0
#include "config/writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include <yaml-cpp/yaml.h>

#include "config/values.hpp"

namespace ward::config {

namespace fs = std::filesystem;

namespace {

void write_limits(YAML::Emitter& out, const Limits& l, const Limits& base) {
    out << YAML::BeginMap;
    if (l.max_connections != base.max_connections) out << YAML::Key << "max_connections" << YAML::Value << l.max_connections;
    if (l.max_handshakes_in_flight != base.max_handshakes_in_flight)
        out << YAML::Key << "max_handshakes_in_flight" << YAML::Value << l.max_handshakes_in_flight;
    if (!(l.per_source == base.per_source)) {
        out << YAML::Key << "per_source" << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "connections" << YAML::Value << l.per_source.connections;
        out << YAML::Key << "handshakes_per_second" << YAML::Value << l.per_source.handshakes_per_second;
        out << YAML::EndMap;
    }
    if (l.handshake_timeout != base.handshake_timeout)
        out << YAML::Key << "handshake_timeout" << YAML::Value << format_duration(l.handshake_timeout);
    if (l.connect_timeout != base.connect_timeout)
        out << YAML::Key << "connect_timeout" << YAML::Value << format_duration(l.connect_timeout);
    if (l.idle_timeout != base.idle_timeout)
        out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(l.idle_timeout);
    if (l.drain_timeout != base.drain_timeout)
        out << YAML::Key << "drain_timeout" << YAML::Value << format_duration(l.drain_timeout);
    if (l.buffer_size != base.buffer_size) out << YAML::Key << "buffer_size" << YAML::Value << format_size(l.buffer_size);
    out << YAML::EndMap;
}

void write_list(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const auto& i : items) out << i;
    out << YAML::EndSeq;
}

}  // namespace

std::string to_yaml(const Config& c) {
    YAML::Emitter out;
    out << YAML::BeginMap;

    out << YAML::Key << "node" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << c.node.name;
    if (!c.node.banner_file.empty()) out << YAML::Key << "banner_file" << YAML::Value << c.node.banner_file.written;
    out << YAML::EndMap;
    if (!c.user.empty()) out << YAML::Key << "user" << YAML::Value << c.user;
    if (!c.pid_file.empty()) out << YAML::Key << "pid_file" << YAML::Value << c.pid_file.written;

    out << YAML::Key << "security" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "mode" << YAML::Value << std::string(to_string(c.security.mode));
    out << YAML::Key << "fips_provider" << YAML::Value << std::string(to_string(c.security.fips_provider));
    out << YAML::Key << "fips_module_dir" << YAML::Value << c.security.fips_module_dir.written;
    out << YAML::Key << "crl_missing" << YAML::Value << std::string(to_string(c.security.crl_missing));
    out << YAML::Key << "xmpp" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "client_to_node_secure" << YAML::Value << c.security.xmpp.client_to_node_secure;
    out << YAML::Key << "router_to_router_secure" << YAML::Value << c.security.xmpp.router_to_router_secure;
    out << YAML::Key << "web_client_secure" << YAML::Value << c.security.xmpp.web_client_secure;
    out << YAML::EndMap << YAML::EndMap;

    if (c.workers != 0) out << YAML::Key << "workers" << YAML::Value << c.workers;
    const Limits defaults;
    if (!(c.limits == defaults)) {
        out << YAML::Key << "limits" << YAML::Value;
        write_limits(out, c.limits, defaults);
    }

    if (!c.certificates.empty()) {
        out << YAML::Key << "certificates" << YAML::Value << YAML::BeginMap;
        for (const auto& x : c.certificates) {
            out << YAML::Key << x.name << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "cert" << YAML::Value << x.cert.written;
            out << YAML::Key << "key" << YAML::Value << x.key.written;
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    if (!c.trust_stores.empty()) {
        out << YAML::Key << "trust_stores" << YAML::Value << YAML::BeginMap;
        for (const auto& x : c.trust_stores)
            out << YAML::Key << x.name << YAML::Value << YAML::BeginMap << YAML::Key << "dir" << YAML::Value
                << x.dir.written << YAML::EndMap;
        out << YAML::EndMap;
    }
    if (!c.tls_peer_subjects.empty()) {
        out << YAML::Key << "tls_peer_subjects" << YAML::Value << YAML::BeginSeq;
        for (const auto& x : c.tls_peer_subjects) {
            out << YAML::BeginMap << YAML::Key << "subject" << YAML::Value << x.subject;
            if (!x.description.empty()) out << YAML::Key << "description" << YAML::Value << x.description;
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    if (!c.tls_contexts.empty()) {
        out << YAML::Key << "tls_contexts" << YAML::Value << YAML::BeginMap;
        for (const auto& x : c.tls_contexts) {
            out << YAML::Key << x.name << YAML::Value << YAML::BeginMap;
            if (!x.certificates.empty()) write_list(out, "certificates", x.certificates);
            else if (!x.certificate.empty()) out << YAML::Key << "certificate" << YAML::Value << x.certificate;
            if (!x.trust_store.empty()) out << YAML::Key << "trust_store" << YAML::Value << x.trust_store;
            write_list(out, "peer_subjects", x.peer_subjects);
            out << YAML::Key << "verify_peer" << YAML::Value << std::string(to_string(x.verify_peer));
            write_list(out, "ciphers", x.ciphers);
            out << YAML::Key << "min_version" << YAML::Value << std::string(to_string(x.min_version));
            out << YAML::Key << "max_version" << YAML::Value << std::string(to_string(x.max_version));
            write_list(out, "groups", x.groups);
            if (x.ocsp != config::OcspStapling{}) {
                out << YAML::Key << "ocsp" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "staple" << YAML::Value << x.ocsp.staple;
                if (!x.ocsp.responder_override.empty())
                    out << YAML::Key << "responder_override" << YAML::Value << x.ocsp.responder_override;
                out << YAML::Key << "refresh" << YAML::Value << format_duration(x.ocsp.refresh);
                out << YAML::EndMap;
            }
            if (x.revocation != config::Revocation{}) {
                const auto& r = x.revocation;
                out << YAML::Key << "revocation" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "crl" << YAML::Value << std::string(to_string(r.crl));
                out << YAML::Key << "ocsp" << YAML::Value << std::string(to_string(r.ocsp));
                if (!r.responder_override.empty())
                    out << YAML::Key << "responder_override" << YAML::Value << r.responder_override;
                out << YAML::Key << "timeout" << YAML::Value << format_duration(r.timeout);
                out << YAML::Key << "cache" << YAML::Value << format_duration(r.cache);
                out << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    if (!c.listeners.empty()) {
        out << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
        for (const auto& l : c.listeners) {
            out << YAML::BeginMap;
            out << YAML::Key << "name" << YAML::Value << l.name;
            out << YAML::Key << "protocol" << YAML::Value << std::string(to_string(l.protocol));
            out << YAML::Key << "bind" << YAML::Value << l.bind.to_string();
            if (!l.backends.empty()) {
                out << YAML::Key << "backends" << YAML::Value << YAML::Flow << YAML::BeginSeq;
                for (const auto& b : l.backends) out << b.to_string();
                out << YAML::EndSeq;
            }
            if (!l.tls_context.empty()) out << YAML::Key << "tls_context" << YAML::Value << l.tls_context;
            if (l.proxy_protocol != ProxyProtocol::off)
                out << YAML::Key << "proxy_protocol" << YAML::Value << std::string(to_string(l.proxy_protocol));
            if (!l.accept_proxy_protocol.empty()) {
                out << YAML::Key << "accept_proxy_protocol" << YAML::Value << YAML::Flow << YAML::BeginSeq;
                for (const auto& net : l.accept_proxy_protocol) out << net.text;
                out << YAML::EndSeq;
            }
            if (!(l.limits == c.limits)) {
                out << YAML::Key << "limits" << YAML::Value;
                write_limits(out, l.limits, c.limits);
            }
            if (l.xmpp) {
                out << YAML::Key << "xmpp" << YAML::Value << YAML::BeginMap;
                write_list(out, "domains", l.xmpp->domains);
                if (!l.xmpp->routes.empty()) {
                    out << YAML::Key << "routes" << YAML::Value << YAML::BeginMap;
                    for (const auto& [domain, r] : l.xmpp->routes) {
                        out << YAML::Key << domain << YAML::Value;
                        if (!r.direct_tls) {
                            out << r.address.to_string();
                            continue;
                        }
                        out << YAML::Flow << YAML::BeginMap << YAML::Key << "address" << YAML::Value
                            << r.address.to_string() << YAML::Key << "tls" << YAML::Value << "direct" << YAML::EndMap;
                    }
                    out << YAML::EndMap;
                }
                if (l.xmpp->web) {
                    const auto& w = *l.xmpp->web;
                    const XmppWebOptions d;
                    out << YAML::Key << "web" << YAML::Value << YAML::BeginMap;
                    out << YAML::Key << "bosh_path" << YAML::Value << w.bosh_path;
                    out << YAML::Key << "websocket_path" << YAML::Value << w.websocket_path;
                    write_list(out, "allowed_origins", w.allowed_origins);
                    auto size = [&](const char* key, std::uint32_t v, std::uint32_t def) {
                        if (v != def) out << YAML::Key << key << YAML::Value << format_size(v);
                    };
                    size("max_header_size", w.max_header_size, d.max_header_size);
                    size("max_body_size", w.max_body_size, d.max_body_size);
                    size("max_response_size", w.max_response_size, d.max_response_size);
                    size("max_message_size", w.max_message_size, d.max_message_size);
                    if (w.request_timeout != d.request_timeout)
                        out << YAML::Key << "request_timeout" << YAML::Value << format_duration(w.request_timeout);
                    if (w.bosh_max_wait != d.bosh_max_wait)
                        out << YAML::Key << "bosh_max_wait" << YAML::Value << format_duration(w.bosh_max_wait);
                    out << YAML::EndMap;
                }
                out << YAML::EndMap;
            }
            if (l.sip) {
                out << YAML::Key << "sip" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "identity_header" << YAML::Value << l.sip->identity_header;
                out << YAML::Key << "max_header_size" << YAML::Value << format_size(l.sip->max_header_size);
                out << YAML::Key << "max_body_size" << YAML::Value << format_size(l.sip->max_body_size);
                out << YAML::Key << "message_timeout" << YAML::Value << format_duration(l.sip->message_timeout);
                if (l.sip->return_bind)
                    out << YAML::Key << "return_bind" << YAML::Value << l.sip->return_bind->to_string();
                if (l.sip->advertised)
                    out << YAML::Key << "advertised" << YAML::Value << l.sip->advertised->to_string();
                out << YAML::EndMap;
            }
            if (l.exchange) {
                const auto& e = *l.exchange;
                const ExchangeOptions d;
                out << YAML::Key << "exchange" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "auth" << YAML::Value << std::string(to_string(e.auth));
                out << YAML::Key << "credentials_file" << YAML::Value << e.credentials_file.written;
                if (!e.domain.empty()) out << YAML::Key << "domain" << YAML::Value << e.domain;
                out << YAML::Key << "workstation" << YAML::Value << e.workstation;
                auto size = [&](const char* key, std::uint32_t v, std::uint32_t def) {
                    if (v != def) out << YAML::Key << key << YAML::Value << format_size(v);
                };
                size("max_header_size", e.max_header_size, d.max_header_size);
                size("max_body_size", e.max_body_size, d.max_body_size);
                size("max_response_size", e.max_response_size, d.max_response_size);
                if (e.request_timeout != d.request_timeout)
                    out << YAML::Key << "request_timeout" << YAML::Value << format_duration(e.request_timeout);
                if (e.pool_size != d.pool_size) out << YAML::Key << "pool_size" << YAML::Value << e.pool_size;
                out << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }

    const Metrics metrics_defaults;
    if (!(c.metrics == metrics_defaults)) {
        out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "enabled" << YAML::Value << c.metrics.enabled;
        out << YAML::Key << "bind" << YAML::Value << c.metrics.bind.to_string();
        out << YAML::EndMap;
    }
    const Admin admin_defaults;
    if (!(c.admin == admin_defaults)) {
        out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "enabled" << YAML::Value << c.admin.enabled;
        out << YAML::Key << "bind" << YAML::Value << c.admin.bind.to_string();
        const auto& a = c.admin;
        if (!a.tls_context.empty()) out << YAML::Key << "tls_context" << YAML::Value << a.tls_context;
        if (!a.users_file.empty()) out << YAML::Key << "users_file" << YAML::Value << a.users_file.written;
        if (!a.audit_file.empty()) out << YAML::Key << "audit_file" << YAML::Value << a.audit_file.written;
        auto duration = [&](const char* key, Duration v, Duration d) {
            if (v != d) out << YAML::Key << key << YAML::Value << format_duration(v);
        };
        auto number = [&](const char* key, std::uint32_t v, std::uint32_t d) {
            if (v != d) out << YAML::Key << key << YAML::Value << v;
        };
        duration("session_timeout", a.session_timeout, admin_defaults.session_timeout);
        duration("session_lifetime", a.session_lifetime, admin_defaults.session_lifetime);
        number("lockout_attempts", a.lockout_attempts, admin_defaults.lockout_attempts);
        duration("lockout_duration", a.lockout_duration, admin_defaults.lockout_duration);
        number("login_failures_per_minute", a.login_failures_per_minute, admin_defaults.login_failures_per_minute);
        number("password_iterations", a.password_iterations, admin_defaults.password_iterations);
        if (a.max_body_size != admin_defaults.max_body_size)
            out << YAML::Key << "max_body_size" << YAML::Value << format_size(a.max_body_size);
        duration("request_timeout", a.request_timeout, admin_defaults.request_timeout);
        out << YAML::EndMap;
    }
    if (c.cluster.enabled) {
        const auto& k = c.cluster;
        const Cluster cluster_defaults;
        out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << k.name;
        out << YAML::Key << "etcd" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "endpoints" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& e : k.endpoints) out << e.to_string();
        out << YAML::EndSeq;
        if (!k.tls_context.empty()) out << YAML::Key << "tls_context" << YAML::Value << k.tls_context;
        if (k.prefix != cluster_defaults.prefix) out << YAML::Key << "prefix" << YAML::Value << k.prefix;
        out << YAML::EndMap;
        if (!k.trust_store.empty()) out << YAML::Key << "trust_store" << YAML::Value << k.trust_store;
        if (!k.publish_certificate.empty())
            out << YAML::Key << "publish_certificate" << YAML::Value << k.publish_certificate;
        if (k.lease_ttl != cluster_defaults.lease_ttl)
            out << YAML::Key << "lease_ttl" << YAML::Value << format_duration(k.lease_ttl);
        if (k.ticket_rotation != cluster_defaults.ticket_rotation)
            out << YAML::Key << "ticket_rotation" << YAML::Value << format_duration(k.ticket_rotation);
        if (!k.ticket_secret_file.empty())
            out << YAML::Key << "ticket_secret_file" << YAML::Value << k.ticket_secret_file.written;
        write_list(out, "import", k.import_clusters);
        out << YAML::EndMap;
    }
    if (c.logging.level != LogLevel::info) {
        out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap << YAML::Key << "level" << YAML::Value
            << std::string(to_string(c.logging.level)) << YAML::EndMap;
    }
    out << YAML::EndMap;
    return std::string("# Written by ward; the previous version is kept beside this file as .prev\n") +
           out.c_str() + "\n";
}

namespace {

Error sys_error(const std::string& what, const fs::path& p) {
    return Error{what + " '" + p.string() + "': " + std::strerror(errno)};
}

// Writes all of `text` to a new file and fsyncs it.
Status write_synced(const fs::path& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return sys_error("cannot create", path);
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto e = sys_error("cannot write", path);
            ::close(fd);
            ::unlink(path.c_str());
            return e;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto e = sys_error("cannot sync", path);
        ::close(fd);
        ::unlink(path.c_str());
        return e;
    }
    ::close(fd);
    return {};
}

Status sync_folder(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error("cannot open folder", folder);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return sys_error("cannot sync folder", folder);
    return {};
}

fs::path temp_beside(const fs::path& file, const char* tag) {
    std::random_device rd;
    auto name = "." + file.filename().string() + "." + tag + "." + std::to_string(rd());
    return file.parent_path().empty() ? fs::path(name) : file.parent_path() / name;
}

}  // namespace

Status save_text_atomically(const fs::path& file, const std::string& text, const SaveOptions& options) {
    const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
    mode_t mode = 0644;
    struct stat st {};
    const bool existed = ::stat(file.c_str(), &st) == 0;
    if (existed) mode = st.st_mode & 07777;
    if (options.mode) mode = static_cast<mode_t>(*options.mode);

    // Keep the current version: copied to a temporary file first so that `.prev` itself is
    // always whole.
    if (existed) {
        std::ifstream in(file, std::ios::binary);
        std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) return sys_error("cannot read", file);
        const auto prev_tmp = temp_beside(file, "prev");
        if (auto s = write_synced(prev_tmp, old, mode); !s) return s;
        fs::path prev = file;
        prev += ".prev";
        if (::rename(prev_tmp.c_str(), prev.c_str()) != 0) {
            auto e = sys_error("cannot keep the previous version as", prev);
            ::unlink(prev_tmp.c_str());
            return e;
        }
    }

    const auto tmp = temp_beside(file, "new");
    if (auto s = write_synced(tmp, text, mode); !s) return s;
    if (options.before_rename) options.before_rename();
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        auto e = sys_error("cannot replace", file);
        ::unlink(tmp.c_str());
        return e;
    }
    return sync_folder(folder);
}

Status save(const Config& config, const fs::path& file, const SaveOptions& options) {
    return save_text_atomically(file, to_yaml(config), options);
}

}  // namespace ward::config
