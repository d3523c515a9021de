#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ward under hostile load: the figures of README "Limits and hardening".

Not a test (figures vary with the machine); each scenario still says whether its bound held,
and exits 1 when one did not. ward runs on CPU 0, everything else on CPU 1; the attackers run
at SCHED_IDLE (`chrt --idle 0`) so that the measuring clients beside them are not starved of
CPU 1 and the figures show ward, not the generator.

  connections   N idle TLS sessions through a tls listener: RSS per session, none refused
                below max_connections, ward's descriptors.
  flood         p99 of a 64-byte echo on an established session, idle and under two floods
                at once: connections that never send a byte (the handshake slots held), and
                full handshakes as fast as a client can make them; with the limits
                (max_handshakes_in_flight, per_source) and without. Refusals by reason.
  slowloris     one byte per second in each phase: a ClientHello (tls listener), the XMPP
                stream header before STARTTLS, a SIP request head after TLS: every dripping
                connection is cut at its deadline, and new clients complete meanwhile.
  slow_readers  K TLS clients that ask a backend for an endless stream and read nothing:
                ward's RSS growth per session (backpressure: never more than a buffer).

Writes bench/results/hardening.{json,md}.
"""
import argparse
import asyncio
import concurrent.futures
import datetime
import json
import os
import pathlib
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from compare import Proc, free_port, raise_nofile, wait_port  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOMAIN = "bench.test"
SUITE13 = "TLS_AES_128_GCM_SHA256"
CIPHER12 = "ECDHE-ECDSA-AES128-GCM-SHA256"


class Bench:
    def __init__(self, build, work):
        self.build = pathlib.Path(build).resolve()
        self.work = work
        self.ward_bin = str(self.build / "proxy" / "ward")
        self.loadgen_bin = str(self.build / "bench" / "ward-loadgen")
        subprocess.run([self.ward_bin, "pki", "init", str(work / "pki")], check=True, capture_output=True)
        subprocess.run([self.ward_bin, "pki", "issue", "--ca-dir", str(work / "pki"), "--cn", DOMAIN, "--dns", DOMAIN,
                        "--ip", "127.0.0.1", "--server-only", "--out", str(work / "bench")], check=True,
                       capture_output=True)
        self.cert, self.key = str(work / "bench.pem"), str(work / "bench.key")
        self.backends = {}
        self.procs = []
        self.others = []

    def backend(self, kind, *extra, cpus="1"):
        key = (kind,) + extra + (cpus,)
        if key not in self.backends:
            p = subprocess.Popen(["taskset", "-c", cpus, self.loadgen_bin, "backend", "--listen", "127.0.0.1:0",
                                  f"--{kind}", *extra], stdout=subprocess.PIPE, text=True,
                                 preexec_fn=raise_nofile, start_new_session=True)
            port = int(json.loads(p.stdout.readline())["listening"].rsplit(":", 1)[1])
            self.backends[key] = (p, port)
        return self.backends[key][1]

    def ward(self, name, limits, listeners, workers=1, cpus="0", level="error"):
        """Starts ward with `listeners` (name: (protocol, backend port, extra yaml)); returns (proc, ports, metrics)."""
        ports = {n: free_port() for n in listeners}
        metrics = free_port()
        lines = []
        for n, (protocol, backend, extra) in listeners.items():
            more = f", xmpp: {{ domains: [{DOMAIN}] }}" if protocol.startswith("xmpp") else ""
            lines.append(f"  - {{ name: {n}, protocol: {protocol}, bind: '127.0.0.1:{ports[n]}', "
                         f"backends: ['127.0.0.1:{backend}'], tls_context: bench{more}{extra} }}")
        path = self.work / f"{name}.yaml"
        path.write_text(f"""
certificates: {{ bench: {{ cert: {self.cert}, key: {self.key} }} }}
tls_contexts:
  bench: {{ certificate: bench, verify_peer: none, ciphers: [{SUITE13}, {CIPHER12}], groups: [P-256] }}
workers: {workers}
limits: {limits}
metrics: {{ bind: '127.0.0.1:{metrics}' }}
logging: {{ level: {level} }}
listeners:
""" + "\n".join(lines) + "\n")
        proc = Proc([self.ward_bin, "run", "-c", str(path)], cpus, self.work / f"{name}.log", cwd=self.work)
        self.procs.append(proc)
        for n in ports:
            if not wait_port(ports[n]):
                raise RuntimeError(f"ward did not listen: {(self.work / f'{name}.log').read_text()[-2000:]}")
        return proc, ports, metrics

    def loadgen(self, args, idle_priority=False, cpus="1"):
        cmd = ["taskset", "-c", cpus] + (["chrt", "--idle", "0"] if idle_priority else []) + [self.loadgen_bin] + args
        r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=raise_nofile, timeout=900)
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-500:]}")
        return json.loads(lines[-1])

    def background(self, cmd, idle_priority=True, cpus="1", **kwargs):
        """A process stopped with the others (its whole session) whatever happens."""
        prefix = ["taskset", "-c", cpus] + (["chrt", "--idle", "0"] if idle_priority else [])
        p = subprocess.Popen(prefix + cmd, stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile,
                             start_new_session=True, **kwargs)
        self.others.append(p)
        return p

    def loadgen_bg(self, args, idle_priority=True, cpus="1"):
        return self.background([self.loadgen_bin] + args, idle_priority, cpus, stderr=subprocess.DEVNULL)

    def stop(self):
        for p in self.others:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.others = []
        for p in self.procs:
            p.stop()
        self.procs = []
        for p, _ in self.backends.values():
            p.terminate()
            p.wait(timeout=10)
        self.backends = {}


def scrape(port, family):
    """{labels: value} of one metric family."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            name, value = line.rsplit(" ", 1)
            out[name[len(family):]] = float(value)
    return out


def refused(port):
    return {k.split('reason="')[1].split('"')[0]: int(v) for k, v in scrape(port, "ward_connections_refused_total").items()
            if v}


def open_fds(proc):
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in proc.pids())


def settle_rss(proc, seconds=20.0):
    """RSS once it stops growing (sampled every 0.5 s, stable for 2 s), KiB."""
    last, stable_since, until = proc.rss_kib(), time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(0.5)
        now = proc.rss_kib()
        if abs(now - last) > max(256, last // 200):
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 2.0:
            break
    return proc.rss_kib()


# --- connections -------------------------------------------------------------------------------

def connections(b, opts):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # ward holds two descriptors per relayed session (client and backend): its limit bounds N.
    n = min(opts.connections, (hard - 200) // 2)
    echo = b.backend("echo")
    proc, ports, metrics = b.ward("connections", f"{{ max_connections: {n + 100}, idle_timeout: 1h }}",
                                  {"tls": ("tls", echo, "")})
    time.sleep(0.5)
    before, fds_before = proc.rss_kib(), open_fds(proc)
    p = b.background([b.loadgen_bin, "idle", "--connect", f"127.0.0.1:{ports['tls']}", "--connections", str(n),
                      "--concurrency", "64", "--hold", "900", "--timeout", "30"], idle_priority=False)
    first = json.loads(p.stdout.readline())
    after = settle_rss(proc, 10)
    fds = open_fds(proc)
    active = scrape(metrics, "ward_sessions_active_total").get("", 0)
    refusals = refused(metrics)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=120)
    b.stop()
    per = (after - before) / max(1, first["established"])
    return {
        "requested": opts.connections, "held": n, "fd_hard_limit": hard,
        "established": first["established"], "failed": first["failed"], "sessions_active": int(active),
        "refused": refusals, "rss_before_kib": before, "rss_after_kib": after, "rss_per_session_kib": round(per, 2),
        "ward_fds": fds - fds_before,
        "held_bound": first["established"] == n and first["failed"] == 0 and not refusals,
    }


# --- flood -------------------------------------------------------------------------------------

SILENT_HOLDER = r"""
import selectors, socket, sys, time
port, total, sources = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
sel = selectors.DefaultSelector()
opened = 0
def open_one(i):
    global opened
    s = socket.socket()
    s.setblocking(False)
    s.bind((sources[i % len(sources)], 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_READ, i)
    opened += 1
for i in range(total):
    open_one(i)
print("ready", flush=True)
while True:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:  # closed by ward (refused or cut): open another in its place
            sel.unregister(s)
            s.close()
            open_one(key.data)
"""


def echo_report(r):
    rt = r.get("latency_us", {}).get("round_trip", {})
    return {"p50_us": rt.get("p50"), "p99_us": rt.get("p99"), "completed": r.get("completed", 0),
            "failed": r.get("failed", 0), "failures": r.get("failures", {})}


def flood_once(b, opts, limits, label):
    # The measured session's client and echo backend share CPU 0 with ward (they cost little);
    # the floods have CPU 1 to themselves, so what the figure shows is ward's doing.
    echo = b.backend("echo", cpus="0")
    proc, ports, metrics = b.ward(f"flood-{label}", limits, {"tls": ("tls", echo, "")})
    port = ports["tls"]
    latency = ["latency", "--connect", f"127.0.0.1:{port}", "--from", "127.0.0.1", "--concurrency", "1",
               "--duration", str(opts.duration), "--request", "64"]
    idle = echo_report(b.loadgen(latency + ["--warmup", "0.5"], cpus="0"))
    # The measured session is established before the floods start (a full listener refuses
    # new connections: that is the limit working), and measured once they are at full rate.
    measured = b.loadgen_bg(latency + ["--warmup", "3"], idle_priority=False, cpus="0")
    time.sleep(0.5)
    holder = b.background(["/usr/bin/python3", "-c", SILENT_HOLDER, str(port), str(opts.silent),
                           ",".join(f"127.0.2.{i}" for i in range(1, 41))], idle_priority=False)
    hellos = [b.loadgen_bg(["handshake", "--connect", f"127.0.0.1:{port}", "--from", f"127.0.3.{i}", "--tls", "1.3",
                            "--concurrency", "32", "--duration", str(opts.duration + 5), "--timeout", "5"],
                           idle_priority=False)
              for i in range(1, 3)]
    cpu0 = proc.cpu_seconds()
    out = measured.communicate(timeout=120)[0]
    ward_cpu = (proc.cpu_seconds() - cpu0) / (opts.duration + 2.5)
    under = echo_report(json.loads([line for line in out.splitlines() if line.strip()][-1]))
    flood_hs = []
    for h in hellos:
        lines = [line for line in h.communicate(timeout=120)[0].splitlines() if line.strip()]
        flood_hs.append(json.loads(lines[-1]) if lines else {})
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    refusals = refused(metrics)
    handshakes = {k.split('result="')[1].split('"')[0]: int(v) for k, v in scrape(metrics, "ward_handshakes_total").items()
                  if v}
    b.stop()
    ratio = under["p99_us"] / idle["p99_us"] if under["p99_us"] and idle["p99_us"] else None
    return {
        "limits": limits, "idle": idle, "under_flood": under,
        "p99_ratio": round(ratio, 2) if ratio else None, "ward_cpu_share_under_flood": round(ward_cpu, 2),
        "flood_handshakes_completed": sum(h.get("completed", 0) for h in flood_hs),
        "flood_handshakes_failed": sum(h.get("failed", 0) for h in flood_hs),
        "refused": refusals, "ward_handshakes": handshakes,
    }


def flood(b, opts):
    on = flood_once(b, opts, "{ max_handshakes_in_flight: 256, per_source: { connections: 64, handshakes_per_second: 50 }, "
                             "handshake_timeout: 10s, idle_timeout: 1h }", "limits")
    off = flood_once(b, opts, "{ max_handshakes_in_flight: 100000, handshake_timeout: 10s, idle_timeout: 1h }",
                     "no-limits")
    return {"with_limits": on, "without_limits": off,
            "held_bound": on["p99_ratio"] is not None and on["p99_ratio"] <= 2.0 and on["under_flood"]["failed"] == 0}


# --- slowloris ---------------------------------------------------------------------------------

def client_hello():
    """The bytes of a real TLS 1.3 ClientHello (Python's ssl, on memory BIOs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=DOMAIN)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


XMPP_HEADER = (f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               f"xmlns:stream='http://etherx.jabber.org/streams' to='{DOMAIN}' version='1.0'>").encode()
SIP_HEAD = ("OPTIONS sip:bench.test SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKslow\r\n"
            "From: <sip:a@example.net>;tag=1\r\nTo: <sip:bench.test>\r\nCall-ID: slow\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()


async def drip(port, source, payload, tls_first, interval):
    """Connects, (TLS,) then writes one byte per interval; seconds from the first byte to ward's close."""
    ctx = None
    if tls_first:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0), ssl=ctx,
                                                   server_hostname=DOMAIN if ctx else None)
    started = time.monotonic()

    async def feed():
        for i in range(len(payload)):
            writer.write(payload[i:i + 1])
            await writer.drain()
            await asyncio.sleep(interval)

    feeder = asyncio.ensure_future(feed())
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, ssl.SSLError):
        pass
    cut = time.monotonic() - started
    feeder.cancel()
    writer.close()
    return cut


async def drip_all(port, payload, tls_first, count, interval):
    sources = [f"127.0.4.{i}" for i in range(1, 1 + max(1, count // 20))]
    tasks = [asyncio.ensure_future(drip(port, sources[i % len(sources)], payload, tls_first, interval))
             for i in range(count)]
    return await asyncio.gather(*tasks, return_exceptions=True)


def slowloris(b, opts):
    echo, xmpp, sipb = b.backend("echo"), b.backend("xmpp"), b.backend("sip")
    deadline = opts.deadline
    proc, ports, metrics = b.ward(
        "slowloris", f"{{ handshake_timeout: {deadline}s, idle_timeout: 1h, per_source: {{ connections: 64 }} }}",
        {"tls": ("tls", echo, ""), "xmpp": ("xmpp-client", xmpp, ""),
         "sip": ("sip", sipb, f", sip: {{ message_timeout: {deadline}s }}")})
    phases = {
        "tls ClientHello (during TLS)": ("tls", client_hello(), False, ["--protocol", "tls"]),
        "XMPP stream header (before TLS)": ("xmpp", XMPP_HEADER, False, ["--protocol", "xmpp-starttls",
                                                                            "--xmpp-domain", DOMAIN]),
        "SIP request head (after TLS)": ("sip", SIP_HEAD, True, ["--protocol", "sip"]),
    }
    out = {}
    for phase, (listener, payload, tls_first, legit_args) in phases.items():
        port = ports[listener]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            drippers = pool.submit(asyncio.run, drip_all(port, payload, tls_first, opts.drips, 1.0))
            time.sleep(1.0)  # the drippers are connected and dripping
            legit = b.loadgen(["handshake", "--connect", f"127.0.0.1:{port}", "--from", "127.0.0.1", "--tls", "1.3",
                               "--concurrency", "4", "--duration", "3"] + legit_args)
            cuts = drippers.result(timeout=deadline + 60)
        ok = [c for c in cuts if isinstance(c, float)]
        errors = [repr(c) for c in cuts if not isinstance(c, float)]
        out[phase] = {
            "drippers": opts.drips, "deadline_s": deadline,
            "cut_after_s": {"min": round(min(ok), 2), "median": round(statistics.median(ok), 2),
                            "max": round(max(ok), 2)} if ok else None,
            "drip_errors": errors[:3], "legit_completed": legit["completed"], "legit_failed": legit.get("failed", 0),
            "held_bound": bool(ok) and not errors and max(ok) <= deadline + 1.5 and legit.get("failed", 0) == 0
            and legit["completed"] > 0,
        }
    b.stop()
    return {"phases": out, "held_bound": all(p["held_bound"] for p in out.values())}


# --- slow readers ------------------------------------------------------------------------------

SLOW_READERS = r"""
import socket, ssl, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for i in range(count):
    raw = socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.5.{1 + i // 50}", 0))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s = ctx.wrap_socket(raw, server_hostname="bench.test")
    s.sendall(b"go")  # the backend streams from its first bytes on; nothing is ever read
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def slow_readers(b, opts):
    source = b.backend("source", "16384")
    proc, ports, _ = b.ward("slow-readers", f"{{ max_connections: {opts.readers + 100}, idle_timeout: 1h }}",
                            {"tls": ("tls", source, "")})
    time.sleep(0.5)
    before = proc.rss_kib()
    p = b.background(["/usr/bin/python3", "-c", SLOW_READERS, str(ports["tls"]), str(opts.readers)],
                     idle_priority=False, stdin=subprocess.PIPE)
    p.stdout.readline()
    after = settle_rss(proc, 30)
    cpu0 = proc.cpu_seconds()
    time.sleep(3)
    idle_cpu = (proc.cpu_seconds() - cpu0) / 3
    p.stdin.close()
    p.wait(timeout=60)
    b.stop()
    per = (after - before) / opts.readers
    return {
        "readers": opts.readers, "rss_before_kib": before, "rss_after_kib": after,
        "rss_growth_per_session_kib": round(per, 1), "ward_cpu_share_while_held": round(idle_cpu, 3),
        "held_bound": per < 1024,
    }


SCENARIOS = {"connections": connections, "flood": flood, "slowloris": slowloris, "slow_readers": slow_readers}


def markdown(results, opts):
    r = results
    lines = [f"# ward under hostile load ({r['when']}, {r['build']})", "",
             f"`bench/hardening.py {' '.join(sys.argv[1:])}`; ward on CPU 0 with 1 worker, the rest on CPU 1.", ""]
    if "connections" in r:
        c = r["connections"]
        lines += ["## Concurrent idle TLS sessions", "",
                  f"{c['established']:,} of {c['held']:,} established ({c['failed']} failed, refused: {c['refused'] or 'none'}); "
                  f"ward RSS {c['rss_before_kib']:,} -> {c['rss_after_kib']:,} KiB, **{c['rss_per_session_kib']} KiB per "
                  f"session** (client side and backend side), {c['ward_fds']:,} descriptors. Asked for {c['requested']:,}; "
                  f"this machine's hard descriptor limit is {c['fd_hard_limit']:,} per process and ward holds two per "
                  "relayed session.", ""]
    if "flood" in r:
        f = r["flood"]
        lines += ["## Handshake floods beside an established session", "",
                  f"{opts.silent} connections that never send a byte (re-opened as ward closes them) and two clients "
                  "making full TLS 1.3 handshakes at concurrency 32 each, from other addresses than the measured "
                  "session's; p99 of a 64-byte echo over one established session.", "",
                  "| limits | p99 idle (us) | p99 under flood (us) | ratio | ward CPU | flood handshakes done | refused |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for key, title in (("with_limits", "max_handshakes_in_flight 256, per_source 64 / 50 per s"),
                           ("without_limits", "none")):
            x = f[key]
            lines.append(f"| {title} | {x['idle']['p99_us']:.0f} | {x['under_flood']['p99_us']:.0f} | {x['p99_ratio']}x | "
                         f"{x['ward_cpu_share_under_flood']:.0%} | {x['flood_handshakes_completed']:,} | "
                         f"{', '.join(f'{k} {v:,}' for k, v in x['refused'].items()) or 'none'} |")
        lines.append("")
    if "slowloris" in r:
        lines += ["## One byte per second, per phase", "",
                  "| phase | drippers | deadline | cut after (min / median / max s) | new clients meanwhile (done / failed) |",
                  "|---|---:|---:|---|---|"]
        for phase, x in r["slowloris"]["phases"].items():
            cut = x["cut_after_s"] or {}
            lines.append(f"| {phase} | {x['drippers']} | {x['deadline_s']} s | {cut.get('min')} / {cut.get('median')} / "
                         f"{cut.get('max')} | {x['legit_completed']:,} / {x['legit_failed']} |")
        lines.append("")
    if "slow_readers" in r:
        s = r["slow_readers"]
        lines += ["## Slow readers", "",
                  f"{s['readers']:,} TLS clients ask the backend for an endless stream and never read: ward's RSS "
                  f"{s['rss_before_kib']:,} -> {s['rss_after_kib']:,} KiB, **{s['rss_growth_per_session_kib']} KiB per "
                  f"session**; ward's CPU while they are held: {s['ward_cpu_share_while_held']:.1%}.", ""]
    held = {k: v.get("held_bound") for k, v in r.items() if isinstance(v, dict) and "held_bound" in v}
    lines += ["Bounds held: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in held.items()), ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build-bench"), help="the build folder with proxy/ward and bench/ward-loadgen")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--connections", type=int, default=20000, help="idle sessions asked for")
    ap.add_argument("--silent", type=int, default=2000, help="flood: connections that never send")
    ap.add_argument("--duration", type=float, default=5.0, help="flood: seconds per latency measurement")
    ap.add_argument("--drips", type=int, default=200, help="slowloris: connections per phase")
    ap.add_argument("--deadline", type=int, default=5, help="slowloris: handshake_timeout and message_timeout, s")
    ap.add_argument("--readers", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    opts = ap.parse_args()
    raise_nofile()
    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-hardening-"))
    b = Bench(opts.build, work)
    results = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
               "build": pathlib.Path(opts.build).name}
    try:
        for name in opts.scenarios.split(","):
            print(f"== {name}", file=sys.stderr, flush=True)
            results[name] = SCENARIOS[name](b, opts)
            print(json.dumps(results[name], indent=1), file=sys.stderr, flush=True)
    finally:
        b.stop()
    out = pathlib.Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hardening.json").write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results, opts)
    (out / "hardening.md").write_text(md)
    print(md)
    return 0 if all(v.get("held_bound", True) for v in results.values() if isinstance(v, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
