// SPDX-License-Identifier: Apache-2.0
// ward-loadgen: the benchmark load generator (see usage() in options.cpp).
#include <csignal>
#include <cstdio>
#include <string_view>
#include <vector>

#include "bench/loadgen/backend.hpp"
#include "bench/loadgen/client_context.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/options.hpp"
#include "bench/loadgen/process_stats.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/run.hpp"

namespace ward::loadgen {
namespace {

constexpr int kUsage = 64;

int usage_error(const std::vector<std::string>& errors) {
    for (const auto& e : errors) std::fprintf(stderr, "ward-loadgen: error: %s\n", e.c_str());
    std::fprintf(stderr, "ward-loadgen: see ward-loadgen --help\n");
    return kUsage;
}

Run::Main main_of(Mode mode) {
    switch (mode) {
        case Mode::handshake: return handshake_main;
        case Mode::resume: return resume_main;
        case Mode::bulk: return bulk_main;
        case Mode::idle: return idle_main;
        case Mode::latency: return latency_main;
        case Mode::backend: break;
    }
    return {};
}

int run(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    ParsedOptions parsed = parse_options(args);
    const Options& o = parsed.options;
    if (o.help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (!parsed.errors.empty()) return usage_error(parsed.errors);

    std::signal(SIGPIPE, SIG_IGN);  // OpenSSL's socket BIO writes with write(2)
    std::string limit_error;
    const std::uint64_t open_files = raise_open_file_limit(limit_error);
    if (!limit_error.empty()) std::fprintf(stderr, "ward-loadgen: warning: %s\n", limit_error.c_str());

    if (o.mode == Mode::backend) return run_backend(o);

    std::vector<std::string> errors;
    const std::uint64_t needed = (o.mode == Mode::idle ? o.connections : o.concurrency) + 32;
    if (open_files && open_files < needed)
        errors.push_back("RLIMIT_NOFILE hard limit " + std::to_string(open_files) + " is below the " +
                         std::to_string(needed) + " descriptors this run needs (raise it with ulimit -Hn)");

    tcp::endpoint target;
    {
        asio::io_context io;
        tcp::resolver resolver(io);
        error_code ec;
        const auto results =
            resolver.resolve(o.target.host, std::to_string(o.target.port), tcp::resolver::numeric_service, ec);
        if (ec || results.empty())
            errors.push_back("--connect: cannot resolve '" + o.target.host + "': " + ec.message());
        else
            target = results.begin()->endpoint();
    }

    std::vector<std::unique_ptr<ClientContext>> contexts;
    for (unsigned i = 0; i < o.threads; ++i) {
        if (o.plain) {
            contexts.push_back(nullptr);
            continue;
        }
        auto ctx = ClientContext::create(o, errors);
        if (!ctx) break;  // the same options fail the same way on every thread
        contexts.push_back(std::move(ctx));
    }
    if (!errors.empty()) return usage_error(errors);

    Run load(o, target, std::move(contexts));
    load.execute(main_of(o.mode), o.mode == Mode::idle ? Run::ReadyHook(print_idle_established) : Run::ReadyHook());
    return report(load);
}

}  // namespace
}  // namespace ward::loadgen

int main(int argc, char** argv) { return ward::loadgen::run(argc, argv); }
