// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/status.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>
#include <ctime>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "config/values.hpp"
#include "proxy/cluster/tickets.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/peer_verifier.hpp"
#include "tls/x509.hpp"

namespace ward::cluster {

namespace {

void describe_into(const std::string& pem, NodeStatus& out) {
    tls::UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(std::min<std::size_t>(pem.size(), 64 * 1024))));
    tls::UniqueX509 cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    if (!cert) {
        out.problem = "not a certificate";
        return;
    }
    auto match = tls::match_subject(cert.get(), {});
    out.subject = match.ok ? match.common_name : std::string();
    if (!match.ok) out.problem = match.reason;
    else if (X509_check_ca(cert.get()) != 0) out.problem = "a CA certificate";
    out.fingerprint = tls::sha256_fingerprint(cert.get());
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) == 1) out.not_after = timegm(&tm);
}

// Who rotated the set and when (readable without the secret), and whether it opens here.
void describe_tickets(std::string_view value, const std::optional<TicketSeal>& seal, TicketStatus& t) {
    boost::system::error_code ec;
    auto v = boost::json::parse(value.substr(0, 4096), ec);
    if (ec || !v.is_object()) {
        t.problem = "not a ticket key set";
        return;
    }
    const auto& o = v.as_object();
    if (const auto* by = o.if_contains("rotated_by"); by && by->is_string()) {
        const std::string name(by->as_string().data(), by->as_string().size());
        if (config::is_cluster_name(name)) t.rotated_by = name;
    }
    if (const auto* when = o.if_contains("rotated"); when && when->is_int64()) t.rotated = when->as_int64();
    if (!seal) {
        t.problem = "not opened here (no readable cluster.ticket_secret_file)";
        return;
    }
    if (auto opened = seal->open(value); !opened) t.problem = opened.error();
}

std::string utc(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

NodeStatus describe_node(std::string cluster, std::string node, const std::string& pem) {
    NodeStatus n;
    n.cluster = std::move(cluster);
    n.node = std::move(node);
    describe_into(pem, n);
    return n;
}

awaitable<Result<ClusterStatus>> read_status(EtcdClient& client, const config::Cluster& cluster, std::string secret) {
    ClusterStatus out;
    const auto tickets_key = cluster.prefix + "/" + cluster.name + "/tickets";
    std::optional<TicketSeal> seal;
    if (!secret.empty()) {
        if (auto s = TicketSeal::derive(secret, tickets_key)) seal = std::move(*s);
        OPENSSL_cleanse(secret.data(), secret.size());
    }
    std::vector<std::string> clusters{cluster.name};
    clusters.insert(clusters.end(), cluster.import_clusters.begin(), cluster.import_clusters.end());
    for (const auto& name : clusters) {
        const auto prefix = cluster.prefix + "/" + name + "/nodes/";
        auto read_op = client.range(prefix, true);
        auto read = co_await std::move(read_op);
        if (!read) co_return Error{read.error()};
        if (out.revision == 0) out.revision = read->revision;
        for (const auto& kv : read->kvs) {
            NodeStatus n;
            n.cluster = name;
            n.node = kv.key.substr(prefix.size());
            if (!config::is_cluster_name(n.node)) n.problem = "a node name ward does not take";
            describe_into(kv.value, n);
            if (kv.lease != 0) {
                auto ttl_op = client.lease_time_to_live(kv.lease);
                auto ttl = co_await std::move(ttl_op);
                if (!ttl) co_return Error{ttl.error()};
                n.lease_left = *ttl;
            }
            out.nodes.push_back(std::move(n));
        }
    }
    auto tickets_op = client.range(tickets_key, false);
    auto tickets = co_await std::move(tickets_op);
    if (!tickets) co_return Error{tickets.error()};
    if (!tickets->kvs.empty()) {
        auto& t = out.tickets;
        t.present = true;
        t.revision = tickets->kvs.front().mod_revision;
        describe_tickets(tickets->kvs.front().value, seal, t);
    }
    out.endpoint = client.endpoint();
    co_return out;
}

std::string format_status(const ClusterStatus& status, std::int64_t now) {
    std::ostringstream s;
    s << "etcd " << status.endpoint << " at revision " << status.revision << ": " << status.nodes.size() << " node"
      << (status.nodes.size() == 1 ? "" : "s") << "\n";
    for (const auto& n : status.nodes) {
        s << "  " << n.cluster << "/" << n.node << "  " << (n.subject.empty() ? "-" : n.subject) << "  "
          << (n.fingerprint.empty() ? "-" : n.fingerprint) << "  ";
        if (n.not_after != 0) {
            s << "expires " << utc(n.not_after);
            if (n.not_after < now) s << " (expired)";
        } else {
            s << "expiry unknown";
        }
        if (n.lease_left > 0) s << "  lease " << n.lease_left << "s left";
        else if (n.lease_left == 0) s << "  lease ended";
        else s << "  no lease";
        if (!n.problem.empty()) s << "  NOT TRUSTED: " << n.problem;
        s << "\n";
    }
    const auto& t = status.tickets;
    const auto claimed = "rotated by " + (t.rotated_by.empty() ? std::string("-") : t.rotated_by) + " at " +
                         (t.rotated > 0 ? utc(t.rotated) : std::string("-"));
    if (!t.present) s << "ticket keys: none in etcd yet\n";
    else if (t.problem.empty()) s << "ticket keys: " << claimed << " (revision " << t.revision << ")\n";
    else s << "ticket keys: at revision " << t.revision << ", not verified here (" << t.problem << "); it says " << claimed << "\n";
    return s.str();
}

}  // namespace ward::cluster
