// SPDX-License-Identifier: Apache-2.0
// The `cluster` block: its reading (a Reader section) and the checks that tie it to the rest.
//
//   cluster:
//     name: prod
//     etcd: { endpoints: [https://etcd1.example:2379], tls_context: etcd-client, prefix: /ward }
//     trust_store: cluster-nodes
//     publish_certificate: xmpp
//     lease_ttl: 10s
//     ticket_rotation: 12h
//     ticket_secret_file: ticket.secret
//     import: [other-cluster]
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config/checks.hpp"
#include "config/reader.hpp"
#include "config/values.hpp"

namespace ward::config {

namespace {


// "/ward", "/ward/prod": a '/' then names as above, separated by single '/'.
bool prefix_ok(std::string_view prefix) {
    if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() == '/' || prefix.size() > 128) return false;
    std::size_t at = 1;
    while (at <= prefix.size()) {
        const auto end = std::min(prefix.find('/', at), prefix.size());
        if (!is_cluster_name(prefix.substr(at, end - at))) return false;
        at = end + 1;
    }
    return true;
}

std::optional<EtcdEndpoint> parse_etcd_endpoint(std::string_view s, std::string& why) {
    EtcdEndpoint e;
    if (s.rfind("https://", 0) == 0) {
        e.tls = true;
        s.remove_prefix(8);
    } else if (s.rfind("http://", 0) == 0) {
        s.remove_prefix(7);
    } else {
        why = "is not an etcd client URL (https://host:port, or http://host:port on loopback)";
        return std::nullopt;
    }
    if (!s.empty() && s.back() == '/') s.remove_suffix(1);
    if (s.find('/') != std::string_view::npos) {
        why = "has a path: write only the scheme, host and port";
        return std::nullopt;
    }
    auto endpoint = parse_endpoint(s, false, why);
    if (!endpoint) return std::nullopt;
    e.host = endpoint->host;
    e.port = endpoint->port;
    return e;
}

}  // namespace

bool is_cluster_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return name != "." && name != "..";
}

std::string EtcdEndpoint::to_string() const {
    const Endpoint e{host, port};
    return std::string(tls ? "https://" : "http://") + e.to_string();
}

void detail::Reader::read_cluster(const YAML::Node& n, const std::string& path, Cluster& out) {
    out.enabled = true;
    if (!map(n, path, {"name", "etcd", "trust_store", "publish_certificate", "lease_ttl", "ticket_rotation",
                     "ticket_secret_file", "import"}))
        return;
    field(n, "name", path, [&](auto& v, auto& p) {
        set_string(v, p, out.name);
        if (!out.name.empty() && !is_cluster_name(out.name))
            error(v, p, "'" + out.name + "' is not a cluster name (up to 64 letters, digits, '.', '_' or '-')");
    });
    field(n, "etcd", path, [&](auto& e, auto& ep) {
        if (!map(e, ep, {"endpoints", "tls_context", "prefix"})) return;
        field(e, "endpoints", ep, [&](auto& v, auto& p) {
            const auto list = string_list(v, p);
            for (std::size_t i = 0; i < list.size(); ++i) {
                std::string why;
                if (auto parsed = parse_etcd_endpoint(list[i], why)) {
                    if (!parsed->tls && !is_loopback(parsed->host))
                        error(v[i], index(p, i),
                              "'" + list[i] + "': plaintext to etcd only on loopback; use https with cluster.etcd.tls_context");
                    out.endpoints.push_back(*parsed);
                } else {
                    error(v[i], index(p, i), "'" + list[i] + "' " + why);
                }
            }
        });
        field(e, "tls_context", ep, [&](auto& v, auto& p) { set_string(v, p, out.tls_context); });
        field(e, "prefix", ep, [&](auto& v, auto& p) {
            set_string(v, p, out.prefix);
            if (!prefix_ok(out.prefix))
                error(v, p, "'" + out.prefix + "' is not a key prefix ('/' then names of letters, digits, '.', '_' or '-', "
                            "separated by '/', e.g. /ward)");
        });
    });
    field(n, "trust_store", path, [&](auto& v, auto& p) { set_string(v, p, out.trust_store); });
    field(n, "publish_certificate", path, [&](auto& v, auto& p) { set_string(v, p, out.publish_certificate); });
    field(n, "lease_ttl", path, [&](auto& v, auto& p) {
        set_duration(v, p, out.lease_ttl);
        // etcd counts a lease in whole seconds.
        if (out.lease_ttl.count() % 1000 != 0 || out.lease_ttl < std::chrono::seconds(2) ||
            out.lease_ttl > std::chrono::hours(1))
            error(v, p, "must be whole seconds from 2s to 1h");
    });
    field(n, "ticket_rotation", path, [&](auto& v, auto& p) {
        set_duration(v, p, out.ticket_rotation);
        if (out.ticket_rotation.count() % 1000 != 0 || out.ticket_rotation < std::chrono::seconds(2) ||
            out.ticket_rotation > std::chrono::hours(24 * 7))
            error(v, p, "must be whole seconds from 2s to 168h");
    });
    field(n, "ticket_secret_file", path, [&](auto& v, auto& p) {
        set_existing_path(v, p, out.ticket_secret_file, false);
        if (out.ticket_secret_file.empty()) return;
        struct stat st {};
        if (::stat(out.ticket_secret_file.resolved.c_str(), &st) != 0) return;  // (said above)
        if ((st.st_mode & 077) != 0)
            error(v, p, "'" + out.ticket_secret_file.resolved.string() +
                            "' is readable by others than its owner: the secret seals the cluster's ticket keys (chmod 600)");
        else if (st.st_size < 32 || st.st_size > 4096)
            error(v, p, "'" + out.ticket_secret_file.resolved.string() +
                            "' must hold 32 to 4096 bytes of secret (e.g. openssl rand -out FILE 32)");
    });
    field(n, "import", path, [&](auto& v, auto& p) {
        const auto list = string_list(v, p);
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (!is_cluster_name(list[i])) error(v[i], index(p, i), "'" + list[i] + "' is not a cluster name");
            out.import_clusters.push_back(list[i]);  // (kept, so that the checks' indexes are the file's)
        }
    });
}

void check_cluster(const Config& config, Diagnostics& diag) {
    const auto& c = config.cluster;
    if (!c.enabled) return;
    auto at = [&](std::string_view key) {
        const std::string p = "cluster." + std::string(key);
        const auto m = config.mark(p);
        return std::pair{m.line != 0 ? m : config.mark("cluster"), p};
    };
    auto fail = [&](std::string_view key, std::string message) {
        const auto [mark, p] = at(key);
        diag.error(mark, p, std::move(message));
    };
    if (c.name.empty()) fail("name", "the cluster needs a name");
    if (!is_cluster_name(config.node.name)) {
        const auto m = config.mark("node.name");
        diag.error(m.line != 0 ? m : config.mark("cluster"), "node.name",
                   "'" + config.node.name + "' cannot name a cluster node (up to 64 letters, digits, '.', '_' or '-')");
    }
    if (c.endpoints.empty()) fail("etcd.endpoints", "the cluster needs at least one etcd endpoint");
    bool any_tls = false;
    for (const auto& e : c.endpoints) any_tls = any_tls || e.tls;
    const TlsContext* tls = nullptr;
    if (!c.tls_context.empty()) {
        tls = config.find_tls_context(c.tls_context);
        if (tls == nullptr) fail("etcd.tls_context", "unknown TLS context '" + c.tls_context + "'");
        else if (tls->trust_store.empty())
            fail("etcd.tls_context", "TLS context '" + c.tls_context + "' has no trust_store to verify etcd with");
    } else if (any_tls) {
        fail("etcd.tls_context", "https endpoints need a tls_context (etcd's CA and this node's client certificate)");
    }
    if (c.trust_store.empty()) {
        fail("trust_store", "the cluster needs a trust_store to keep the nodes' certificates in");
    } else if (config.find_trust_store(c.trust_store) == nullptr) {
        fail("trust_store", "unknown trust store '" + c.trust_store + "'");
    } else if (tls != nullptr && tls->trust_store == c.trust_store) {
        fail("trust_store", "trust store '" + c.trust_store + "' is also how ward verifies etcd (cluster.etcd.tls_context): "
                            "ward keeps the cluster's store equal to the nodes' certificates; give it a folder of its own");
    }
    if (const auto* own = config.find_trust_store(c.trust_store)) {
        // Under another name the same folder would be another store ward empties and fills.
        for (const auto& other : config.trust_stores) {
            if (other.name == own->name) continue;
            std::error_code ec;
            const bool same = other.dir.resolved.lexically_normal() == own->dir.resolved.lexically_normal() ||
                              std::filesystem::equivalent(other.dir.resolved, own->dir.resolved, ec);
            if (same)
                fail("trust_store", "trust store '" + own->name + "' shares its folder with trust store '" + other.name +
                                        "': ward keeps the cluster's folder equal to the nodes' certificates; give it "
                                        "a folder of its own");
        }
    }
    if (!c.publish_certificate.empty() && config.find_certificate(c.publish_certificate) == nullptr)
        fail("publish_certificate", "unknown certificate '" + c.publish_certificate + "'");
    std::set<std::string> imported;
    for (std::size_t i = 0; i < c.import_clusters.size(); ++i) {
        const auto& name = c.import_clusters[i];
        const auto key = "import[" + std::to_string(i) + "]";
        if (name == c.name) fail(key, "'" + name + "' is this cluster");
        else if (!imported.insert(name).second) fail(key, "'" + name + "' is listed twice");
    }
    if (!config.security.xmpp.router_to_router_secure) {
        const auto [mark, p] = at("trust_store");
        diag.warning(mark, p,
                     "security.xmpp.router_to_router_secure is off: the nodes' certificates are replicated, but "
                     "servers may connect without TLS");
    }
}

}  // namespace ward::config
