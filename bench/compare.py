#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side comparison of ward with HAProxy (mode tcp), nginx (stream) and stunnel.

All four terminate TLS with the same certificate (ECDSA P-256), versions (TLS 1.2 and 1.3),
ciphers (TLS_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256), group (P-256) and worker
count, in front of one plaintext echo backend (ward-loadgen backend). Each repetition runs
every scenario against every proxy, in an order that rotates between repetitions. With one
worker the proxy is pinned to CPU 0 and the load generator and backend to CPU 1, and each
proxy's CPU seconds are read from /proc (all its processes and threads), so figures are given
per proxy CPU-second: on two cores the TLS client, not the proxy, limits wall-clock rates.

Protocol scenarios put each proxy in front of a protocol backend instead (ward-loadgen backend
--xmpp / --sip) and drive it as XMPP and SIP peers do: XMPP Direct TLS and SIP over TLS for all
four (the peers relay TLS; ward also checks the XMPP header, filters the features, frames SIP),
XMPP STARTTLS for ward alone (no peer speaks it).

Writes bench/results/latest.{md,json,png} (and a dated copy of each) and prints the table.
"""
import argparse
import datetime
import json
import os
import pathlib
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
CIPHER12 = "ECDHE-ECDSA-AES128-GCM-SHA256"
SUITE13 = "TLS_AES_128_GCM_SHA256"
PROXIES = ["ward", "ward-wolfssl", "haproxy", "nginx", "stunnel"]
# The ward flavours a run may name, and the build folder of each (the load generator and the
# PKI always come from the OpenSSL build): `ward` is the OpenSSL flavour, `ward-wolfssl` the
# wolfSSL one (WARD_TLS=wolfssl). WARD_BENCH_BUILD / WARD_WOLFSSL_BENCH_BUILD override them.
WARD_BUILDS = {
    "ward": pathlib.Path(os.environ.get("WARD_BENCH_BUILD", ROOT / "build-bench")),
    "ward-wolfssl": pathlib.Path(os.environ.get("WARD_WOLFSSL_BENCH_BUILD", ROOT / "build-bench-wolfssl")),
}
LOADGEN = WARD_BUILDS["ward"] / "bench" / "ward-loadgen"
# The OpenSSL flavour's own targets against the best peer on the same library (issue 20); the
# wolfSSL flavour is held to METRICS' targets.
OPENSSL_TARGETS = {"full_tls13": 1.1, "idle_rss": 1.0}

# name: (title, unit, higher_is_better, ward's target against the best peer)
METRICS = {
    "full_tls13": ("full handshakes, TLS 1.3", "per proxy CPU-s", True, 1.5),
    "resumed_tls13": ("resumed handshakes, TLS 1.3", "per proxy CPU-s", True, 1.5),
    "resumed_tls12": ("resumed handshakes, TLS 1.2", "per proxy CPU-s", True, 1.2),
    "bulk": ("bulk throughput, both ways", "MiB per proxy CPU-s", True, 1.2),
    "idle_rss": ("RSS per idle TLS connection", "KiB", False, 0.75),
    "added_p99": ("added p99 latency, 64-byte echo", "us", False, 1.0),
    # Protocol sessions: connect, [STARTTLS,] full TLS 1.3 handshake, the protocol's exchange.
    "xmpp_direct": ("XMPP Direct TLS sessions (header + features)", "per proxy CPU-s", True, 1.5),
    "sip_options": ("SIP over TLS, one OPTIONS per connection", "per proxy CPU-s", True, 1.5),
    "xmpp_starttls": ("XMPP STARTTLS sessions (ward only)", "per proxy CPU-s", True, None),
}
DEFAULT_SCENARIOS = ["full_tls13", "resumed_tls13", "resumed_tls12", "bulk", "idle_rss", "added_p99",
                     "xmpp_direct", "sip_options", "xmpp_starttls"]
# scenario: (ward's listener protocol, backend kind); the rest run on `tls` in front of `echo`.
PROTOCOL_SETUP = {
    "xmpp_direct": ("xmpp-client-tls", "xmpp"),
    "sip_options": ("sip", "sip"),
    "xmpp_starttls": ("xmpp-client", "xmpp"),
}
XMPP_DOMAIN = "bench.test"


def serves(proxy, scenario):
    return scenario != "xmpp_starttls" or proxy.startswith("ward")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Proc:
    """A process started in its own session, pinned to CPUs; CPU and RSS over all its processes."""

    def __init__(self, argv, cpus, log, cwd=None):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(["taskset", "-c", cpus] + argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True, preexec_fn=raise_nofile)
        self.sid = self.p.pid

    def pids(self):
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[3]) == self.sid:  # session id
                out.append(int(entry))
        return out

    def cpu_seconds(self):
        total = 0
        for pid in self.pids():
            try:
                fields = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            fields = fields[fields.rfind(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, all threads
        return total / CLK_TCK

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.sid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.sid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def proxy_config(name, work, port, backend, cert, key, workers, protocol="tls"):
    combined = work / "combined.pem"
    if name in WARD_BUILDS:
        path = work / f"{name}.yaml"
        extra = f", xmpp: {{ domains: [{XMPP_DOMAIN}] }}" if protocol.startswith("xmpp") else ""
        path.write_text(f"""
certificates: {{ bench: {{ cert: {cert}, key: {key} }} }}
tls_contexts:
  bench: {{ certificate: bench, verify_peer: none, ciphers: [{SUITE13}, {CIPHER12}], groups: [P-256] }}
workers: {workers}
limits: {{ max_connections: 8000, idle_timeout: 1h, handshake_timeout: 10s }}
metrics: {{ enabled: false }}
logging: {{ level: warn }}
listeners:
  - {{ name: bench, protocol: {protocol}, bind: '127.0.0.1:{port}', backends: ['127.0.0.1:{backend}'], tls_context: bench{extra} }}
""")
        return [str(WARD_BUILDS[name] / "proxy" / "ward"), "run", "-c", str(path)]
    if name == "haproxy":
        combined.write_text(pathlib.Path(cert).read_text() + pathlib.Path(key).read_text())
        path = work / "haproxy.cfg"
        path.write_text(f"""
global
    nbthread {workers}
    maxconn 8000
    ssl-default-bind-ciphers {CIPHER12}
    ssl-default-bind-ciphersuites {SUITE13}
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    maxconn 8000
frontend tls
    bind 127.0.0.1:{port} ssl crt {combined} curves P-256
    default_backend echo
backend echo
    server s1 127.0.0.1:{backend}
""")
        return ["/usr/sbin/haproxy", "-f", str(path), "-db"]
    if name == "nginx":
        path = work / "nginx.conf"
        path.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes {workers};
daemon off;
pid {work}/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 18000;
events {{ worker_connections 8000; }}
stream {{
    server {{
        listen 127.0.0.1:{port} ssl;
        proxy_pass 127.0.0.1:{backend};
        proxy_timeout 1h;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {CIPHER12};
        ssl_conf_command Ciphersuites {SUITE13};
        ssl_ecdh_curve prime256v1;
        ssl_session_tickets on;
    }}
}}
""")
        return ["/usr/sbin/nginx", "-c", str(path), "-p", str(work), "-e", "stderr"]
    if name == "stunnel":
        path = work / "stunnel.conf"
        path.write_text(f"""
foreground = yes
pid =
debug = 3
[bench]
accept = 127.0.0.1:{port}
connect = 127.0.0.1:{backend}
cert = {cert}
key = {key}
sslVersionMin = TLSv1.2
ciphers = {CIPHER12}
ciphersuites = {SUITE13}
curves = prime256v1
""")
        return ["/usr/bin/stunnel4", str(path)]
    raise ValueError(name)


# HelloRetryRequests the load generator saw, over the run: every listener accepts only P-256 and
# the generator offers only P-256 (--groups), so there must be none (each would cost the proxy a
# second flight and make the handshake figures a HelloRetryRequest rate).
HELLO_RETRIES = {"seen": 0, "runs": 0}


def loadgen(args, cpus="1", expect_ok=True):
    cmd = ["taskset", "-c", cpus, str(LOADGEN)] + args
    r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=raise_nofile, timeout=600)
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    if expect_ok and r.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-500:]} {r.stdout[-300:]}")
    report = json.loads(lines[-1])
    if "hello_retry_requests" in report:
        HELLO_RETRIES["seen"] += report["hello_retry_requests"]
        HELLO_RETRIES["runs"] += 1
    return report


def measure(proxy, port, scenario, opts, baseline_p99):
    common = ["--connect", f"127.0.0.1:{port}", "--groups", "P-256"]
    d = str(opts.duration)
    cpu0 = proxy.cpu_seconds()
    if scenario == "full_tls13":
        r = loadgen(["handshake"] + common + ["--tls", "1.3", "--concurrency", "16", "--duration", d])
        return r["completed"] / (proxy.cpu_seconds() - cpu0), r
    if scenario == "resumed_tls13":
        r = loadgen(["resume"] + common + ["--tls", "1.3", "--concurrency", "16", "--duration", d])
        return r["completed"] / (proxy.cpu_seconds() - cpu0), r
    if scenario == "resumed_tls12":
        r = loadgen(["resume"] + common + ["--tls", "1.2", "--concurrency", "16", "--duration", d])
        return r["completed"] / (proxy.cpu_seconds() - cpu0), r
    if scenario == "bulk":
        r = loadgen(["bulk"] + common + ["--concurrency", "4", "--duration", d, "--size", "16384"])
        mib = (r["up"]["bytes"] + r["down"]["bytes"]) / (1 << 20)
        return mib / (proxy.cpu_seconds() - cpu0), r
    if scenario == "idle_rss":
        before = proxy.rss_kib()
        cmd = ["taskset", "-c", "1", str(LOADGEN), "idle"] + common + \
              ["--connections", str(opts.idle), "--hold", "600"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
        first = json.loads(p.stdout.readline())
        if first.get("established") != opts.idle:
            p.kill()
            raise RuntimeError(f"idle: {first}")
        # The proxy has accepted, handshaken and connected every backend by now.
        after = proxy.rss_kib()
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
        return (after - before) / opts.idle, first
    if scenario == "added_p99":
        r = loadgen(["latency"] + common + ["--count", str(opts.latency_count), "--warmup", "0.5"])
        return r["latency_us"]["round_trip"]["p99"] - baseline_p99, r
    if scenario in PROTOCOL_SETUP:
        protocol = {"xmpp_direct": "xmpp-tls", "sip_options": "sip", "xmpp_starttls": "xmpp-starttls"}[scenario]
        args = ["handshake"] + common + ["--tls", "1.3", "--concurrency", "16", "--duration", d, "--protocol", protocol]
        if protocol.startswith("xmpp"):
            args += ["--xmpp-domain", XMPP_DOMAIN]
        r = loadgen(args)
        return r["completed"] / (proxy.cpu_seconds() - cpu0), r
    raise ValueError(scenario)


def start_http_backend(work, cpus):
    """nginx (http) as a plaintext HTTP backend for the ab and wrk cross-checks."""
    port = free_port()
    (work / "small").write_text("x" * 64)
    (work / "big").write_bytes(b"y" * (256 * 1024))
    # nginx's workers run as nobody: the files and the folder must be readable to them.
    os.chmod(work, 0o755)
    for f in ("small", "big"):
        os.chmod(work / f, 0o644)
    conf = work / "http-backend.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {work}/http-backend.pid;
error_log stderr warn;
events {{ worker_connections 4000; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {work};
        keepalive_requests 1000000;
    }}
}}
""")
    proc = Proc(["/usr/sbin/nginx", "-c", str(conf), "-p", str(work), "-e", "stderr"], cpus, work / "http-backend.log",
                cwd=work)
    if not wait_port(port):
        raise RuntimeError("the HTTP backend did not listen: " + (work / "http-backend.log").read_text()[-1000:])
    return proc, port


def crosscheck(name, proc, port, opts, gen_cpus):
    """ab (full handshakes, one request each) and wrk (keep-alive, 256 KiB bodies) through a proxy."""
    out = {}
    cpu0 = proc.cpu_seconds()
    r = subprocess.run(["taskset", "-c", gen_cpus, "ab", "-q", "-n", str(opts.ab_requests), "-c", "16", "-f", "TLS1.3",
                        f"https://127.0.0.1:{port}/small"], capture_output=True, text=True, timeout=600)
    cpu = proc.cpu_seconds() - cpu0
    done = failed = 0
    for line in r.stdout.splitlines():
        if line.startswith("Complete requests:"):
            done = int(line.split()[-1])
        if line.startswith("Failed requests:"):
            failed = int(line.split()[-1])
    if done == 0 or failed or "Non-2xx" in r.stdout:
        raise RuntimeError(f"ab through {name}: {done} done, {failed} failed: {r.stdout[-800:]} {r.stderr[-300:]}")
    out["ab_full_handshakes"] = done / cpu if cpu > 0 else 0.0
    cpu0 = proc.cpu_seconds()
    r = subprocess.run(["taskset", "-c", gen_cpus, "wrk", "-t1", "-c4", f"-d{opts.duration:g}s",
                        f"https://127.0.0.1:{port}/big"], capture_output=True, text=True, timeout=600)
    cpu = proc.cpu_seconds() - cpu0
    if "Non-2xx" in r.stdout or "requests in" not in r.stdout:
        raise RuntimeError(f"wrk through {name} did not get 200s: {r.stdout[-800:]} {r.stderr[-300:]}")
    mib = 0.0
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[1] == "requests" and parts[2] == "in":
            mib = int(parts[0]) * 256 / 1024  # every response is the 256 KiB file
    out["wrk_bulk"] = mib / cpu if cpu > 0 else 0.0
    return out


CROSSCHECKS = {
    "ab_full_handshakes": ("ab: full handshakes (TLS 1.3, one request each)", "per proxy CPU-s", True),
    "wrk_bulk": ("wrk: 256 KiB responses, keep-alive", "MiB per proxy CPU-s", True),
}


def fmt(values):
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.1f}"
    return f"{med:,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per rate measurement")
    ap.add_argument("--idle", type=int, default=2000, help="idle connections for the memory figure")
    ap.add_argument("--latency-count", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--proxies", default=",".join(PROXIES))
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--no-crosscheck", action="store_true", help="skip the ab and wrk cross-checks")
    ap.add_argument("--ab-requests", type=int, default=3000)
    opts = ap.parse_args()
    proxies = opts.proxies.split(",")
    scenarios = opts.scenarios.split(",")
    if opts.workers != 1:
        print("note: CPU pinning applies to the 1-worker figures only", file=sys.stderr)
    proxy_cpus = "0" if opts.workers == 1 else "0-1"
    gen_cpus = "1" if opts.workers == 1 else "0-1"

    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-bench-"))
    ward = str(WARD_BUILDS["ward"] / "proxy" / "ward")
    subprocess.run([ward, "pki", "init", str(work / "pki")], check=True, capture_output=True)
    subprocess.run([ward, "pki", "issue", "--ca-dir", str(work / "pki"), "--cn", "bench.test", "--dns", "bench.test",
                    "--ip", "127.0.0.1", "--server-only", "--out", str(work / "bench")], check=True, capture_output=True)
    cert, key = str(work / "bench.pem"), str(work / "bench.key")

    backends, backend_ports = [], {}
    for kind in ("echo", "xmpp", "sip"):
        b = subprocess.Popen(["taskset", "-c", gen_cpus, str(LOADGEN),
                              "backend", "--listen", "127.0.0.1:0", f"--{kind}"], stdout=subprocess.PIPE, text=True,
                             preexec_fn=raise_nofile, start_new_session=True)
        backends.append(b)
        backend_ports[kind] = int(json.loads(b.stdout.readline())["listening"].rsplit(":", 1)[1])
    backend_port = backend_ports["echo"]

    running = {}
    results = {p: {s: [] for s in scenarios} for p in proxies}
    cross = {p: {} for p in proxies}
    raw = []

    def start(name, target=None, protocol="tls"):
        port = free_port()
        argv = proxy_config(name, work, port, target or backend_port, cert, key, opts.workers, protocol)
        proc = Proc(argv, proxy_cpus, work / f"{name}.log", cwd=work)
        if not wait_port(port):
            raise RuntimeError(f"{name} did not listen: {(work / f'{name}.log').read_text()[-2000:]}")
        running[name] = (proc, port, (protocol, target or backend_port))

    try:
        for name in proxies:
            start(name)
        baseline = loadgen(["latency", "--plain", "--connect", f"127.0.0.1:{backend_port}",
                            "--count", str(opts.latency_count), "--warmup", "0.5"], cpus=gen_cpus)
        baseline_p99 = baseline["latency_us"]["round_trip"]["p99"]
        for rep in range(opts.reps):
            order = proxies[rep % len(proxies):] + proxies[:rep % len(proxies)]
            for scenario in scenarios:
                for name in order:
                    if not serves(name, scenario):
                        continue
                    protocol, kind = PROTOCOL_SETUP.get(scenario, ("tls", "echo"))
                    if scenario == "idle_rss" or running[name][2] != (protocol, backend_ports[kind]):
                        # idle_rss: memory freed by earlier scenarios stays in the allocator and
                        # would be reused, so measure on a freshly started proxy. Protocol
                        # scenarios: the proxy in front of that protocol's backend.
                        running[name][0].stop()
                        start(name, backend_ports[kind], protocol)
                    proc, port, _ = running[name]
                    value, report = measure(proc, port, scenario, opts, baseline_p99)
                    results[name][scenario].append(value)
                    raw.append({"rep": rep, "proxy": name, "scenario": scenario, "value": value, "report": report})
                    print(f"rep {rep + 1}/{opts.reps} {scenario:14s} {name:8s} {value:12,.1f}", file=sys.stderr)
        if not opts.no_crosscheck:
            # Independent clients: each proxy restarted in front of an HTTP backend.
            http, http_port = start_http_backend(work, gen_cpus)
            try:
                for rep in range(opts.reps):
                    for name in proxies[rep % len(proxies):] + proxies[:rep % len(proxies)]:
                        running[name][0].stop()
                        start(name, target=http_port)
                        proc, port, _ = running[name]
                        for check, value in crosscheck(name, proc, port, opts, gen_cpus).items():
                            cross[name].setdefault(check, []).append(value)
                            print(f"rep {rep + 1}/{opts.reps} {check:18s} {name:8s} {value:12,.1f}", file=sys.stderr)
            finally:
                http.stop()
    finally:
        for proc, _, _ in running.values():
            proc.stop()
        for b in backends:
            os.killpg(b.pid, signal.SIGTERM)
            b.wait()

    # The table: medians (min-max), and ward against the best peer in this run.
    peers = [p for p in proxies if p not in WARD_BUILDS]
    wards = [p for p in proxies if p in WARD_BUILDS]
    lines = [f"| metric | unit | " + " | ".join(proxies) + "".join(f" | {w} / best peer | target | met" for w in wards) + " |",
             "|---|---|" + "---|" * len(proxies) + "---|---|---|" * len(wards)]
    verdicts = {w: {} for w in wards}
    for scenario in scenarios:
        title, unit, higher, wolf_target = METRICS[scenario]
        cells = [fmt(results[p][scenario]) if results[p][scenario] else "n/a" for p in proxies]
        served = [p for p in peers if results[p][scenario]]
        judged = []
        for w in wards:
            target = OPENSSL_TARGETS.get(scenario) if w == "ward" else wolf_target
            ratio_cell, target_cell, met_cell = "-", "-", "-"
            if served and results[w][scenario]:
                ward_med = statistics.median(results[w][scenario])
                peer_meds = {p: statistics.median(results[p][scenario]) for p in served}
                best = max(peer_meds, key=peer_meds.get) if higher else min(peer_meds, key=peer_meds.get)
                if peer_meds[best] > 0:
                    ratio = ward_med / peer_meds[best]
                    ratio_cell = f"{ratio:.2f}x ({best})"
                    verdicts[w][scenario] = {"ratio": ratio, "best_peer": best, "target": target}
                    if target is not None:
                        met = ratio >= target if higher else ratio <= target
                        target_cell = (">= " if higher else "<= ") + f"{target}x"
                        met_cell = "yes" if met else "no"
                        verdicts[w][scenario]["met"] = met
            judged.append(f" | {ratio_cell} | {target_cell} | {met_cell}")
        lines.append(f"| {title} | {unit} | " + " | ".join(cells) + "".join(judged) + " |")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    header = (f"ward side by side, {stamp}: {opts.reps} repetitions, {opts.duration:g} s per rate, "
              f"{opts.workers} worker(s), proxy on CPU {proxy_cpus}, generator and backend on CPU {gen_cpus}; "
              f"ECDSA P-256, {SUITE13} / {CIPHER12}, P-256; {opts.idle} idle connections; "
              f"direct p99 {baseline_p99:.1f} us; HelloRetryRequests seen on the wire: {HELLO_RETRIES['seen']} "
              f"in {HELLO_RETRIES['runs']} generator runs. Medians (min-max).")
    if not opts.no_crosscheck and all(cross[p] for p in proxies):
        lines += ["", "Cross-checks with independent clients (same proxies, in front of an nginx HTTP backend):", "",
                  "| cross-check | unit | " + " | ".join(proxies) + " | ward / best peer |",
                  "|---|---|" + "---|" * len(proxies) + "---|"]
        for check, (title, unit, higher) in CROSSCHECKS.items():
            cells = [fmt(cross[p][check]) for p in proxies]
            ratio_cell = "-"
            if "ward" in proxies and peers and all(cross[p].get(check) for p in peers + ["ward"]):
                peer_meds = {p: statistics.median(cross[p][check]) for p in peers}
                best = max(peer_meds, key=peer_meds.get)
                if peer_meds[best] > 0:
                    ratio_cell = f"{statistics.median(cross['ward'][check]) / peer_meds[best]:.2f}x ({best})"
            lines.append(f"| {title} | {unit} | " + " | ".join(cells) + f" | {ratio_cell} |")
    table = header + "\n\n" + "\n".join(lines) + "\n"
    print(table)

    out = pathlib.Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    day = stamp.replace(":", "")
    (out / "latest.md").write_text(table)
    (out / f"compare-{day}.md").write_text(table)
    payload = {"when": stamp, "options": vars(opts), "baseline_p99_us": baseline_p99, "results": results,
               "crosschecks": cross,
               "verdicts": verdicts, "raw": raw}
    (out / "latest.json").write_text(json.dumps(payload, indent=1))
    if chart(results, proxies, scenarios, out / "latest.png"):
        shutil.copyfile(out / "latest.png", out / f"compare-{day}.png")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def chart(results, proxies, scenarios, path):
    """Each metric relative to one peer's median (1.0; HAProxy when it ran, else the first other
    peer), higher bars better (memory and latency inverted). False when no chart was drawn."""
    peers = [p for p in proxies if not p.startswith("ward")]
    if shutil.which("gnuplot") is None or not peers:
        return False
    reference = "haproxy" if "haproxy" in peers else peers[0]
    rows = []
    for s in scenarios:
        title, _, higher, _ = METRICS[s]
        if not results[reference][s]:
            continue  # a scenario only ward serves
        ref = statistics.median(results[reference][s])
        vals = []
        for p in proxies:
            v = statistics.median(results[p][s]) if results[p][s] else 0
            rel = (v / ref if higher else (ref / v if v > 0 else 0)) if ref > 0 else 0
            vals.append(f"{rel:.3f}")
        rows.append('"' + title.replace('"', "") + '" ' + " ".join(vals))
    data = path.with_suffix(".dat")
    data.write_text("\n".join(rows) + "\n")
    plot = "; ".join(f"'{data}' using {i + 2}:xtic(1) title '{p}'" for i, p in enumerate(proxies))
    script = f"""
set terminal pngcairo size 1200,600
set output '{path}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'relative to {reference} (higher is better)'
set xtics rotate by -20
set grid ytics
set key top left
plot {plot.replace("; ", ", ")}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    data.unlink(missing_ok=True)
    return path.exists()


if __name__ == "__main__":
    sys.exit(main())
