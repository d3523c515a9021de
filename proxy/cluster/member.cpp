// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/member.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "proxy/cluster/etcd_client.hpp"
#include "proxy/cluster/trust_sync.hpp"
#include "proxy/engine/log.hpp"

namespace ward::cluster {

namespace fs = std::filesystem;
namespace asio = proxy::asio;
using proxy::proxy_log;
using proxy::use_tuple;

namespace {

// How long a member waits before it asks etcd again after a failure.
constexpr std::chrono::seconds kRetry{1};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class Member final : public proxy::ClusterMember {
public:
    Member(proxy::Control& control, asio::io_context& io, fs::path file)
        : control_(control), io_(io), file_(std::move(file)) {}

    void follow(std::shared_ptr<const proxy::Snapshot> snapshot) override {
        const auto& c = snapshot->config;
        std::string pem;
        if (const auto* cert = c.find_certificate(c.cluster.publish_certificate)) pem = first_certificate(cert->cert.resolved);
        const auto* tls = c.find_tls_context(c.cluster.tls_context);
        const bool same = snapshot_ && snapshot_->config.cluster == c.cluster && snapshot_->config.node == c.node &&
                          pem == published_ && same_context(tls);
        snapshot_ = std::move(snapshot);
        published_ = std::move(pem);
        if (!same && !stopping_) start();
    }

    void stop() override {
        if (stopping_) return;
        stopping_ = true;
        ++epoch_;
        if (auto w = watch_.lock()) w->close();
        if (lease_ != 0 && client_) {
            // Leaving: the others drop this node's certificate now rather than at the lease's end.
            asio::co_spawn(io_, leave(client_, lease_), [](std::exception_ptr e) {
                if (e) proxy_log().error("cluster: leaving ended by an unexpected exception");
            });
            lease_ = 0;
        }
    }

private:
    // The first certificate of a PEM file, as the others will store it ("" when unreadable).
    static std::string first_certificate(const fs::path& file) {
        const auto text = read_text(file);
        const auto begin = text.find("-----BEGIN CERTIFICATE-----");
        const std::string end_marker = "-----END CERTIFICATE-----";
        const auto end = text.find(end_marker, begin == std::string::npos ? 0 : begin);
        if (begin == std::string::npos || end == std::string::npos) return {};
        return text.substr(begin, end + end_marker.size() - begin) + "\n";
    }

    bool same_context(const config::TlsContext* now) const {
        const auto* was = snapshot_ ? snapshot_->config.find_tls_context(snapshot_->config.cluster.tls_context) : nullptr;
        if (was == nullptr || now == nullptr) return was == now;
        return *was == *now;
    }

    void start() {
        const auto epoch = ++epoch_;
        if (auto w = watch_.lock()) w->close();
        const auto& c = snapshot_->config;
        EtcdOptions options;
        options.endpoints = c.cluster.endpoints;
        if (!c.cluster.tls_context.empty()) {
            auto it = snapshot_->tls.contexts.find(c.cluster.tls_context);
            if (it != snapshot_->tls.contexts.end()) options.tls = it->second;
        }
        options.timeout = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), c.cluster.lease_ttl / 2);
        options.watch_wait = std::chrono::seconds(30);
        client_ = std::make_shared<EtcdClient>(io_.get_executor(), std::move(options));
        lease_ = 0;
        proxy_log().info("cluster: node '{}' of cluster '{}' on etcd {}", c.node.name, c.cluster.name,
                         c.cluster.endpoints.empty() ? std::string("(none)") : c.cluster.endpoints.front().to_string());
        auto log_end = [](std::exception_ptr e) {
            if (e) proxy_log().error("cluster: a loop ended by an unexpected exception");
        };
        if (!published_.empty()) asio::co_spawn(io_, publish(epoch, client_), log_end);
        else if (!c.cluster.publish_certificate.empty())
            proxy_log().error("cluster: certificate '{}' has no readable certificate to publish", c.cluster.publish_certificate);
        asio::co_spawn(io_, keep_trust(epoch, client_), log_end);
    }

    bool current(std::uint64_t epoch) const { return epoch == epoch_ && !stopping_; }

    awaitable<void> pause(std::chrono::milliseconds d) {
        asio::steady_timer t(io_);
        t.expires_after(d);
        co_await t.async_wait(use_tuple);
    }

    std::string own_key() const {
        const auto& c = snapshot_->config;
        return c.cluster.prefix + "/" + c.cluster.name + "/nodes/" + c.node.name;
    }

    awaitable<void> publish(std::uint64_t epoch, std::shared_ptr<EtcdClient> client) {
        const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(snapshot_->config.cluster.lease_ttl);
        std::string last_failure;
        auto failed = [&](const std::string& why) {
            if (why != last_failure) proxy_log().warn("cluster: publishing this node: {}", why);
            last_failure = why;
        };
        std::int64_t lease = 0;
        while (current(epoch)) {
            if (lease == 0) {
                auto grant = client->grant_lease(ttl);
                auto granted = co_await std::move(grant);
                if (!current(epoch)) break;
                if (!granted) {
                    failed(granted.error());
                    co_await pause(kRetry);
                    continue;
                }
                lease = *granted;
                auto key = own_key();
                auto value = published_;
                auto put_op = client->put(std::move(key), std::move(value), lease);
                auto put = co_await std::move(put_op);
                if (!current(epoch)) break;
                if (!put) {
                    failed(put.error());
                    lease = 0;
                    co_await pause(kRetry);
                    continue;
                }
                lease_ = lease;
                if (!last_failure.empty()) proxy_log().info("cluster: publishing this node again");
                last_failure.clear();
                proxy_log().info("cluster: published {} (lease {}s)", own_key(), ttl.count());
            }
            co_await pause(std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3);
            if (!current(epoch)) break;
            auto keep = client->keep_alive(lease);
            auto kept = co_await std::move(keep);
            if (!current(epoch)) break;
            if (!kept) {
                failed(kept.error());  // the lease may live on: try again at the next beat
            } else if (*kept == 0) {
                failed("the lease ended (etcd was away longer than the lease); publishing again");
                lease = 0;
            } else if (!last_failure.empty()) {
                proxy_log().info("cluster: lease kept alive again");
                last_failure.clear();
            }
        }
    }

    // The nodes under `prefix` of the clusters this node trusts, from a key's name.
    bool wanted_key(const std::string& key, NodeKey& out) const {
        const auto& c = snapshot_->config.cluster;
        const auto base = c.prefix + "/";
        if (key.rfind(base, 0) != 0) return false;
        const auto rest = std::string_view(key).substr(base.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) return false;
        const auto cluster = rest.substr(0, slash);
        const auto tail = rest.substr(slash + 1);
        if (tail.rfind("nodes/", 0) != 0) return false;
        const auto node = tail.substr(6);
        const bool trusted = cluster == c.name ||
                             std::find(c.import_clusters.begin(), c.import_clusters.end(), cluster) != c.import_clusters.end();
        if (!trusted || node.empty() || node.find('/') != std::string_view::npos) return false;
        out = {std::string(cluster), std::string(node)};
        return true;
    }

    void apply(const PublishedNodes& nodes) {
        auto report = sync_trust(file_, snapshot_->config.cluster.trust_store, snapshot_->config.cluster.name, nodes);
        if (!report) {
            proxy_log().error("cluster: the trust store is left as it is: {}", report.error());
            return;
        }
        // Each refusal is logged when it first appears (the set is the last sync's: bounded).
        std::set<std::string> refused(report->refused.begin(), report->refused.end());
        for (const auto& why : refused) {
            if (refused_.count(why) == 0) proxy_log().warn("cluster: not trusted: {}", why);
        }
        refused_ = std::move(refused);
        if (report->changes.empty()) return;
        for (const auto& line : report->changes) proxy_log().info("cluster: {}", line);
        const auto outcome = control_.reload();
        if (!outcome.applied) proxy_log().error("cluster: the reload after the trust change failed: {}", outcome.message);
    }

    awaitable<void> keep_trust(std::uint64_t epoch, std::shared_ptr<EtcdClient> client) {
        std::string last_failure;
        auto failed = [&](const std::string& why) {
            if (why != last_failure) proxy_log().warn("cluster: following the nodes: {}; the trust in force stays", why);
            last_failure = why;
        };
        while (current(epoch)) {
            const auto& c = snapshot_->config.cluster;
            auto base = c.prefix + "/";
            // Only the trusted clusters' nodes are read (what others write under the prefix
            // cannot make the answer too large); the watch from the first read's revision
            // replays whatever changed meanwhile, which the map absorbs.
            std::vector<std::string> clusters{c.name};
            clusters.insert(clusters.end(), c.import_clusters.begin(), c.import_clusters.end());
            PublishedNodes nodes;
            std::int64_t from = 0;
            std::optional<std::string> failure;
            for (const auto& name : clusters) {
                auto read_op = client->range(base + name + "/nodes/", true);
                auto read = co_await std::move(read_op);
                if (!current(epoch)) co_return;
                if (!read) {
                    failure = read.error();
                    break;
                }
                if (from == 0) from = read->revision + 1;
                for (const auto& kv : read->kvs) {
                    NodeKey k;
                    if (wanted_key(kv.key, k)) nodes[k] = kv.value;
                }
            }
            if (failure) {
                failed(*failure);
                co_await pause(kRetry);
                continue;
            }
            apply(nodes);
            if (!current(epoch)) break;
            auto watch_op = client->watch(base, from);
            auto watch = co_await std::move(watch_op);
            if (!current(epoch)) break;
            if (!watch) {
                failed(watch.error());
                co_await pause(kRetry);
                continue;
            }
            if (!last_failure.empty()) proxy_log().info("cluster: following the nodes again");
            last_failure.clear();
            // The loop owns its watch; the member only closes it (a restart may replace it).
            std::shared_ptr<EtcdWatch> w = std::move(*watch);
            watch_ = w;
            for (;;) {
                auto next_op = w->next();
                auto message = co_await std::move(next_op);
                if (!current(epoch)) co_return;
                if (!message || message->compact_revision != 0) break;  // read again, watch again
                bool changed = false;
                for (const auto& e : message->events) {
                    NodeKey k;
                    if (!wanted_key(e.kv.key, k)) continue;
                    if (e.deleted) {
                        changed = nodes.erase(k) != 0 || changed;
                    } else if (auto it = nodes.find(k); it == nodes.end() || it->second != e.kv.value) {
                        nodes[k] = e.kv.value;
                        changed = true;
                    }
                }
                if (changed) apply(nodes);
                if (!current(epoch)) co_return;
            }
            // (An etcd that ends every watch at once does not make this loop spin.)
            co_await pause(kRetry);
        }
    }

    awaitable<void> leave(std::shared_ptr<EtcdClient> client, std::int64_t lease) {
        auto revoke = client->revoke_lease(lease);
        auto done = co_await std::move(revoke);
        if (done) proxy_log().info("cluster: left (lease revoked)");
        else proxy_log().warn("cluster: could not revoke the lease ({}); it ends by itself", done.error());
    }

    proxy::Control& control_;
    asio::io_context& io_;
    fs::path file_;
    std::shared_ptr<const proxy::Snapshot> snapshot_;
    std::string published_;
    std::shared_ptr<EtcdClient> client_;
    std::weak_ptr<EtcdWatch> watch_;
    std::int64_t lease_ = 0;
    std::uint64_t epoch_ = 0;
    bool stopping_ = false;
    std::set<std::string> refused_;  // logged once each
};

}  // namespace

Result<std::unique_ptr<proxy::ClusterMember>> make_member(proxy::Control& control, asio::io_context& io,
                                                          const fs::path& config_file) {
    return std::unique_ptr<proxy::ClusterMember>(std::make_unique<Member>(control, io, config_file));
}

}  // namespace ward::cluster
