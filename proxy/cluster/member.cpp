// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/member.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "proxy/cluster/etcd_client.hpp"
#include "proxy/cluster/status.hpp"
#include "proxy/cluster/shared_tickets.hpp"
#include "proxy/cluster/trust_sync.hpp"
#include "proxy/engine/log.hpp"
#include "proxy/ops/secrets.hpp"

namespace ward::cluster {

namespace fs = std::filesystem;
namespace asio = proxy::asio;
using proxy::proxy_log;
using proxy::use_tuple;

namespace {

// How long a member waits before it asks etcd again after a failure.
constexpr std::chrono::seconds kRetry{1};

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class Member final : public proxy::ClusterMember {
public:
    Member(proxy::Control& control, asio::io_context& io, fs::path file)
        : control_(control), io_(io), file_(std::move(file)), tickets_(io, [this](const std::string& failure) {
              if (failure.empty()) contact();
              else lost(failure);
          }) {}

    void follow(std::shared_ptr<const proxy::Snapshot> snapshot) override {
        const auto& c = snapshot->config;
        if (!c.cluster.enabled) {
            // The block was taken out: leave, and seal with this node's own keys again.
            snapshot_ = std::move(snapshot);
            quit();
            return;
        }
        std::string pem;
        if (const auto* cert = c.find_certificate(c.cluster.publish_certificate)) pem = first_certificate(cert->cert.resolved);
        const auto* tls = c.find_tls_context(c.cluster.tls_context);
        // (A new secret in the same file counts as a change; one that cannot be read, too.)
        std::string secret;
        if (!c.cluster.ticket_secret_file.empty()) {
            auto read = read_ticket_secret(c.cluster.ticket_secret_file.resolved.string());
            secret = read ? ops::sha256(*read) : "unreadable: " + read.error();
            if (read) OPENSSL_cleanse(read->data(), read->size());
        }
        const bool same = snapshot_ && snapshot_->config.cluster == c.cluster && snapshot_->config.node == c.node &&
                          pem == published_ && same_context(tls) && secret == secret_digest_;
        snapshot_ = std::move(snapshot);
        published_ = std::move(pem);
        secret_digest_ = secret;
        if (!same && !stopping_) start();
    }

    void stop() override {
        if (stopping_) return;
        stopping_ = true;
        quit();
    }

    proxy::ClusterView view() const override {
        proxy::ClusterView v;
        if (!snapshot_) return v;
        const auto& c = snapshot_->config;
        v.name = c.cluster.name;
        v.node = c.node.name;
        v.etcd_reachable = running_ && reachable_;
        v.etcd_endpoint = client_ ? client_->endpoint() : std::string();
        v.etcd_error = reachable_ ? std::string() : etcd_error_;
        v.etcd_last_contact = last_contact_;
        v.published = running_ && lease_ != 0;
        v.ticket_keys = !tls::ticket_keys_shared() ? "local" : (reachable_ && running_ ? "shared" : "stale");
        v.ticket_rotated_by = tickets_.rotated_by();
        v.ticket_rotated = tickets_.rotated();
        v.ticket_rotations = tickets_.rotations_won();
        const auto seen = watch_live_ ? unix_now() : seen_at_;
        for (const auto& d : described_) {
            proxy::ClusterNodeView n{d.cluster, d.node, d.subject, d.fingerprint, d.not_after, seen, true, {}};
            if (auto it = not_trusted_.find({d.cluster, d.node}); it != not_trusted_.end()) {
                n.trusted = false;
                n.problem = it->second;
            } else if (!synced_) {
                n.trusted = false;
                n.problem = "the trust store could not be written";
            }
            v.nodes.push_back(std::move(n));
        }
        return v;
    }

private:
    // Leaves the cluster: every loop ends, the lease is revoked (the others drop this node's
    // certificate now rather than at the lease's end), and this node seals with its own keys.
    void quit() {
        ++epoch_;
        running_ = false;
        watch_live_ = false;
        if (auto w = watch_.lock()) w->close();
        if (lease_ != 0 && client_) {
            asio::co_spawn(io_, leave(client_, lease_), [](std::exception_ptr e) {
                if (e) proxy_log().error("cluster: leaving ended by an unexpected exception");
            });
        }
        lease_ = 0;
        tickets_.stop();
    }

    void contact() {
        reachable_ = true;
        last_contact_ = unix_now();
    }
    void lost(const std::string& why) {
        reachable_ = false;
        etcd_error_ = why;
    }

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
        running_ = true;
        reachable_ = false;
        proxy_log().info("cluster: node '{}' of cluster '{}' on etcd {}", c.node.name, c.cluster.name,
                         c.cluster.endpoints.empty() ? std::string("(none)") : c.cluster.endpoints.front().to_string());
        auto log_end = [](std::exception_ptr e) {
            if (e) proxy_log().error("cluster: a loop ended by an unexpected exception");
        };
        if (!published_.empty()) asio::co_spawn(io_, publish(epoch, client_), log_end);
        else if (!c.cluster.publish_certificate.empty())
            proxy_log().error("cluster: certificate '{}' has no readable certificate to publish", c.cluster.publish_certificate);
        asio::co_spawn(io_, keep_trust(epoch, client_), log_end);
        share_tickets();
    }

    bool current(std::uint64_t epoch) const { return epoch == epoch_ && !stopping_; }

    // The shared ticket keys, when the operator gave the secret that seals them in etcd.
    void share_tickets() {
        const auto& c = snapshot_->config;
        if (c.cluster.ticket_secret_file.empty()) {
            tickets_.stop();
            proxy_log().info("cluster: no cluster.ticket_secret_file: session tickets stay this node's own");
            return;
        }
        auto secret = read_ticket_secret(c.cluster.ticket_secret_file.resolved.string());
        if (!secret) {
            tickets_.stop();
            proxy_log().error("cluster: {}: session tickets stay this node's own", secret.error());
            return;
        }
        auto seal = TicketSeal::derive(*secret, c.cluster.prefix + "/" + c.cluster.name + "/tickets");
        OPENSSL_cleanse(secret->data(), secret->size());
        if (!seal) {
            tickets_.stop();
            proxy_log().error("cluster: {}: session tickets stay this node's own", seal.error());
            return;
        }
        tickets_.start(client_, std::move(*seal), c.node.name,
                       std::chrono::duration_cast<std::chrono::seconds>(c.cluster.ticket_rotation));
    }

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
            lost(why);
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
                contact();
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
                contact();
                proxy_log().warn("cluster: the lease ended (etcd was away longer than the lease); publishing again");
                last_failure = "the lease ended";
                lease = 0;
                lease_ = 0;
            } else {
                contact();
                if (!last_failure.empty()) proxy_log().info("cluster: lease kept alive again");
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

    void apply() {
        // Described once per change, not per metrics scrape or API call.
        described_.clear();
        for (const auto& [key, pem] : nodes_) described_.push_back(describe_node(key.cluster, key.node, pem));
        auto report = sync_trust(file_, snapshot_->config.cluster.trust_store, snapshot_->config.cluster.name, nodes_);
        if (!report) {
            synced_ = false;
            proxy_log().error("cluster: the trust store is left as it is: {}", report.error());
            return;
        }
        synced_ = true;
        not_trusted_ = std::move(report->not_trusted);
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
            lost(why);
        };
        // The revision to watch from: after a read, the one after it; after a watch that broke,
        // the one after its last event (etcd replays what changed meanwhile). 0: read first.
        std::int64_t from = 0;
        while (current(epoch)) {
            const auto& c = snapshot_->config.cluster;
            auto base = c.prefix + "/";
            if (from == 0) {
                // Only the trusted clusters' nodes are read (what others write under the prefix
                // cannot make the answer too large).
                std::vector<std::string> clusters{c.name};
                clusters.insert(clusters.end(), c.import_clusters.begin(), c.import_clusters.end());
                PublishedNodes nodes;
                std::optional<std::string> failure;
                std::int64_t revision = 0;
                for (const auto& name : clusters) {
                    auto read_op = client->range(base + name + "/nodes/", true);
                    auto read = co_await std::move(read_op);
                    if (!current(epoch)) co_return;
                    if (!read) {
                        failure = read.error();
                        break;
                    }
                    if (revision == 0) revision = read->revision;
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
                contact();
                seen_at_ = unix_now();
                nodes_ = std::move(nodes);
                from = revision + 1;
                apply();
                if (!current(epoch)) break;
            }
            auto watch_op = client->watch(base, from);
            auto watch = co_await std::move(watch_op);
            if (!current(epoch)) break;
            if (!watch) {
                failed(watch.error());
                co_await pause(kRetry);
                continue;
            }
            contact();
            if (!last_failure.empty()) proxy_log().info("cluster: following the nodes again from revision {}", from);
            last_failure.clear();
            // The loop owns its watch; the member only closes it (a restart may replace it).
            std::shared_ptr<EtcdWatch> w = std::move(*watch);
            watch_ = w;
            watch_live_ = true;
            for (;;) {
                auto next_op = w->next();
                auto message = co_await std::move(next_op);
                if (!current(epoch)) co_return;
                if (!message) {
                    failed(message.error());
                    break;  // watch again from `from`
                }
                if (message->compact_revision != 0) {
                    from = 0;  // the revision is gone: read again
                    break;
                }
                if (message->created && message->revision + 1 < from) {
                    // etcd is behind the revision this node reached (restored, or another
                    // cluster): what it says now is the truth; read it again.
                    from = 0;
                    break;
                }
                if (message->canceled) {
                    failed("etcd ended the watch: " + message->cancel_reason);
                    from = 0;
                    break;
                }
                contact();
                seen_at_ = unix_now();
                bool changed = false;
                for (const auto& e : message->events) {
                    from = std::max(from, e.kv.mod_revision + 1);
                    if (e.kv.key == tickets_.key()) {
                        if (!e.deleted) tickets_.seen(e.kv.value, e.kv.mod_revision);
                        continue;
                    }
                    NodeKey k;
                    if (!wanted_key(e.kv.key, k)) continue;
                    if (e.deleted) {
                        changed = nodes_.erase(k) != 0 || changed;
                    } else if (auto it = nodes_.find(k); it == nodes_.end() || it->second != e.kv.value) {
                        nodes_[k] = e.kv.value;
                        changed = true;
                    }
                }
                if (changed) apply();
                if (!current(epoch)) co_return;
            }
            watch_live_ = false;
            seen_at_ = unix_now();
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
    std::string secret_digest_;  // of the ticket secret file read last
    std::shared_ptr<EtcdClient> client_;
    std::weak_ptr<EtcdWatch> watch_;
    std::int64_t lease_ = 0;
    std::uint64_t epoch_ = 0;
    bool stopping_ = false;
    std::set<std::string> refused_;  // logged once each
    PublishedNodes nodes_;           // the trusted clusters' nodes, as etcd has them
    std::map<NodeKey, std::string> not_trusted_;
    std::vector<NodeStatus> described_;  // nodes_, described
    bool synced_ = true;             // the last sync wrote the store
    bool running_ = false;           // the loops run (a cluster block is in force)
    bool reachable_ = false;         // etcd answered the last call
    bool watch_live_ = false;
    std::string etcd_error_;
    std::int64_t last_contact_ = 0;
    std::int64_t seen_at_ = 0;       // when etcd last told what the nodes are
    SharedTickets tickets_;
};

}  // namespace

Result<std::unique_ptr<proxy::ClusterMember>> make_member(proxy::Control& control, asio::io_context& io,
                                                          const fs::path& config_file) {
    return std::unique_ptr<proxy::ClusterMember>(std::make_unique<Member>(control, io, config_file));
}

}  // namespace ward::cluster
