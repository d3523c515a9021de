// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/report.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "bench/loadgen/client_context.hpp"
#include "bench/loadgen/json_writer.hpp"
#include "bench/loadgen/run.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kMinResumedRatio = 0.99;

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void write_latency(JsonWriter& j, std::string_view key, const Histogram& h, bool with_p999) {
    j.open(key);
    j.number("count", h.count());
    if (h.count()) {
        j.real("min", us(h.min()), 1);
        j.real("mean", h.mean() / 1000.0, 1);
        j.real("p50", us(h.quantile(0.50)), 1);
        j.real("p90", us(h.quantile(0.90)), 1);
        j.real("p99", us(h.quantile(0.99)), 1);
        if (with_p999) j.real("p99.9", us(h.quantile(0.999)), 1);
        j.real("max", us(h.max()), 1);
    }
    j.close();
}

void write_parameters(JsonWriter& j, const Options& o) {
    const Mode m = o.mode;
    j.open("parameters");
    j.number("threads", o.threads);
    if (m == Mode::idle) {
        j.number("connections", o.connections);
        j.number("concurrency", o.concurrency);
        if (o.duration_s) j.real("hold_s", *o.duration_s); else j.null("hold_s");
    } else {
        j.number("concurrency", o.concurrency);
        if (o.duration_s) j.real("duration_s", *o.duration_s); else j.null("duration_s");
        if (o.count) j.number("count", *o.count); else j.null("count");
        j.real("warmup_s", o.warmup_s);
    }
    if (m == Mode::bulk) {
        j.text("direction", to_string(o.direction));
        j.number("size", o.size);
        if (o.direction == Direction::down) j.number("request_bytes", o.request);
    } else if (m != Mode::idle) {
        j.number("request_bytes", o.request);
    }
    if (m == Mode::latency) j.boolean("plain", o.plain);
    j.real("timeout_s", o.timeout_s);
    j.real("linger_s", o.linger_s);
    if (!o.plain) {
        if (o.tls) j.text("tls", to_string(*o.tls)); else j.null("tls");
        if (!o.cipher.empty()) j.text("cipher", o.cipher); else j.null("cipher");
        if (!o.groups.empty()) j.text("groups", o.groups); else j.null("groups");
        if (!o.sni.empty()) j.text("sni", o.sni); else j.null("sni");
        j.boolean("verify", o.verify);
        j.boolean("client_cert", !o.cert.empty());
    }
    j.close();
}

void write_close_counts(JsonWriter& j, const CloseCounts& c) {
    j.open("closes");
    j.number("close_notify", c.close_notify);
    j.number("eof", c.eof);
    j.number("tls_error", c.tls_error);
    j.number("error", c.error);
    j.number("timeout", c.timeout);
    j.close();
}

}  // namespace

int report(const Run& run) {
    const Options& o = run.options();
    const Stats st = run.merged_stats();
    const double measured = run.measured_seconds();
    const double rate = measured > 0 ? static_cast<double>(st.completed) / measured : 0;
    std::vector<std::string> problems;

    JsonWriter j;
    j.open();
    j.text("mode", to_string(o.mode));
    j.text("target", o.target.text());
    write_parameters(j, o);
    if (!o.plain) {
        j.open("negotiated");
        if (st.negotiated.known) {
            j.text("version", st.negotiated.version);
            j.text("cipher", st.negotiated.cipher);
            if (!st.negotiated.group.empty()) j.text("group", st.negotiated.group); else j.null("group");
        }
        j.close();
        j.number("hello_retry_requests", ClientContext::hello_retry_requests());
    }

    switch (o.mode) {
        case Mode::handshake:
        case Mode::resume: {
            j.number("completed", st.completed);
            j.real("rate_per_s", rate, 1);
            j.number("resumed", st.resumed);
            j.number("full", st.completed - st.resumed);
            if (o.mode == Mode::resume) {
                const double ratio = st.completed ? static_cast<double>(st.resumed) / static_cast<double>(st.completed) : 0;
                j.real("resumed_ratio", ratio, 4);
                std::uint64_t sessions = 0, without = 0;
                for (const auto& w : run.workers()) {
                    sessions += w->tls()->sessions_received();
                    without += w->tls()->pool_empty();
                }
                j.number("sessions_received", sessions);
                j.number("started_without_session", without);
                j.boolean("session_ticket", run.workers().front()->tls()->session_has_ticket());
                if (st.completed == 0 || ratio < kMinResumedRatio)
                    problems.push_back("only " + std::to_string(st.resumed) + " of " + std::to_string(st.completed) +
                                       " handshakes resumed (needed 99%): the rate is not a resumption rate");
            } else if (st.resumed) {
                problems.push_back(std::to_string(st.resumed) + " handshakes were resumptions in a full-handshake run");
            }
            j.open("latency_us");
            write_latency(j, "connect", st.connect_ns, false);
            write_latency(j, "handshake", st.handshake_ns, false);
            if (o.request) write_latency(j, "request", st.exchange_ns, false);
            j.close();
            if (st.completed == 0) problems.push_back("no handshake completed");
            break;
        }
        case Mode::bulk: {
            j.number("established", st.established);
            j.open("up");
            j.number("bytes", st.bytes_up);
            j.real("mib_per_s", measured > 0 ? static_cast<double>(st.bytes_up) / kMiB / measured : 0, 2);
            j.close();
            j.open("down");
            j.number("bytes", st.bytes_down);
            j.real("mib_per_s", measured > 0 ? static_cast<double>(st.bytes_down) / kMiB / measured : 0, 2);
            j.close();
            j.open("latency_us");
            write_latency(j, "connect", st.connect_ns, false);
            write_latency(j, "handshake", st.handshake_ns, false);
            j.close();
            if (st.established == 0) problems.push_back("no connection established");
            else if (o.direction != Direction::up && st.bytes_down == 0)
                problems.push_back("no data came back (for --direction down the backend must be `backend --source`)");
            break;
        }
        case Mode::idle: {
            j.number("established", st.established);
            j.number("requested", o.connections);
            j.number("closed_by_peer", st.closed_by_peer);
            j.real("held_s", measured);  // from all established to the stop
            j.open("latency_us");
            write_latency(j, "connect", st.connect_ns, false);
            write_latency(j, "handshake", st.handshake_ns, false);
            j.close();
            if (st.established < o.connections)
                problems.push_back("established " + std::to_string(st.established) + " of " +
                                   std::to_string(o.connections) + " connections");
            break;
        }
        case Mode::latency: {
            j.number("established", st.established);
            j.number("completed", st.completed);
            j.real("rate_per_s", rate, 1);
            j.open("latency_us");
            write_latency(j, "round_trip", st.exchange_ns, true);
            if (!o.plain) write_latency(j, "handshake", st.handshake_ns, false);
            j.close();
            if (st.completed == 0) problems.push_back("no round trip completed");
            break;
        }
        case Mode::backend: break;
    }

    j.number("failed", st.failed);
    j.open("failures");
    for (const auto& [reason, n] : st.failures) j.number(reason, n);
    j.close();
    write_close_counts(j, st.closes);
    j.real("measured_s", measured);
    j.real("wall_s", run.wall_seconds());
    const CpuTimes all = run.cpu_total();
    const CpuTimes window = run.cpu_measured();
    j.open("cpu_s");
    j.real("user", all.user_s);
    j.real("system", all.system_s);
    j.real("total", all.total());
    j.real("measured", window.total());
    j.close();
    // Of one core, during the measured window: how much of the machine the generator took.
    const double cpu_percent = measured > 0 ? 100.0 * window.total() / measured : 0;
    j.real("cpu_percent_measured", cpu_percent, 1);
    // Every thread busy more than 90% of the window: the generator, not the server, may have
    // set the pace.
    const bool saturated = cpu_percent > 90.0 * o.threads;
    j.boolean("generator_saturated", saturated);
    j.close();
    std::fprintf(stdout, "%s\n", j.str().c_str());
    std::fflush(stdout);

    if (saturated)
        std::fprintf(stderr, "ward-loadgen: warning: the generator used %.0f%% of a core with %u thread(s): "
                             "it may have been the bottleneck (more --threads, or fewer cores for the server)\n",
                     cpu_percent, o.threads);
    if (run.internal_error()) {
        std::fprintf(stderr, "ward-loadgen: internal error (see above)\n");
        return 70;
    }
    if (st.failed) {
        problems.push_back(std::to_string(st.failed) + " operations failed:");
        for (const auto& [reason, n] : st.failures) problems.push_back("  " + std::to_string(n) + " x " + reason);
    }
    for (const auto& p : problems) std::fprintf(stderr, "ward-loadgen: %s\n", p.c_str());
    if (o.mode == Mode::resume) {
        const double ratio = st.completed ? static_cast<double>(st.resumed) / static_cast<double>(st.completed) : 0;
        if (ratio < kMinResumedRatio) return 2;
    }
    return problems.empty() ? 0 : 1;
}

}  // namespace ward::loadgen
