// SPDX-License-Identifier: Apache-2.0
#include "proxy/cli_cluster.hpp"

#include <ctime>
#include <iostream>
#include <optional>

#include "config/diagnostics.hpp"
#include "proxy/cli.hpp"
#include "proxy/cluster/status.hpp"
#include "proxy/cluster/tickets.hpp"
#include "proxy/engine/snapshot.hpp"

namespace ward::proxy {

namespace {

constexpr std::string_view kClusterUsage = R"(usage: ward cluster status -c FILE

Asks the configuration's etcd (cluster.etcd, through its TLS context) for the nodes of the
cluster and of the clusters it imports: each node's certificate subject, SHA-256 fingerprint
and expiry, what is left of its lease, and why the others do not trust it when they do not;
then which node rotated the cluster's ticket keys last, and when.
Exit status: 0 with the list, 69 when etcd does not answer, 78 for a configuration without a
valid cluster block.
)";

awaitable<void> keep(awaitable<Result<cluster::ClusterStatus>> op, std::optional<Result<cluster::ClusterStatus>>& out) {
    auto r = co_await std::move(op);
    out.emplace(std::move(r));
}

}  // namespace

int cmd_cluster(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << kClusterUsage;
        return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] != "status") {
        std::cerr << "ward: unknown cluster command '" << args[0] << "'\n\n" << kClusterUsage;
        return kExitUsage;
    }
    if (args.size() != 3 || (args[1] != "-c" && args[1] != "--config")) {
        std::cerr << "ward: expected: ward cluster status -c FILE\n\n" << kClusterUsage;
        return kExitUsage;
    }
    const auto& file = args[2];
    config::Diagnostics diagnostics(file);
    auto snapshot = build_snapshot(file, diagnostics);
    for (const auto& d : diagnostics.all())
        if (d.severity == config::Severity::error) std::cerr << config::format(d) << '\n';
    if (!snapshot) return kExitConfig;
    const auto& c = snapshot->config.cluster;
    if (!c.enabled) {
        std::cerr << file << ": no cluster block\n";
        return kExitConfig;
    }
    asio::io_context io;
    cluster::EtcdOptions options;
    options.endpoints = c.endpoints;
    if (auto it = snapshot->tls.contexts.find(c.tls_context); it != snapshot->tls.contexts.end()) options.tls = it->second;
    cluster::EtcdClient client(io.get_executor(), options);
    std::optional<Result<cluster::ClusterStatus>> status;
    // The ticket secret, when this user may read it: the set is then opened to check it.
    std::string secret;
    if (!c.ticket_secret_file.empty()) {
        if (auto read = cluster::read_ticket_secret(c.ticket_secret_file.resolved.string())) secret = std::move(*read);
    }
    asio::co_spawn(io, keep(cluster::read_status(client, c, std::move(secret)), status), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.run();  // every call has its deadline: this ends
    if (!status || !*status) {
        std::cerr << "ward cluster status: " << (status ? status->error() : std::string("no answer")) << '\n';
        return kExitUnavailable;
    }
    std::cout << "cluster " << c.name << ": " << cluster::format_status(**status, static_cast<std::int64_t>(std::time(nullptr)));
    return kExitOk;
}

}  // namespace ward::proxy
