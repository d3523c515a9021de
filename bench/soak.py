#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The soak: mixed traffic through one ward for a long time, and whether anything grows.

Not in CI (30 minutes by default). ward runs with two workers and four listeners in front of
ward-loadgen backends: XMPP STARTTLS and Direct TLS sessions opening and closing, SIP OPTIONS
over TLS, bulk echo both ways, and 200 established TLS sessions held from start to end. Every
minute the configuration changes (idle_timeout flips between two values) and ward reloads
(SIGHUP); half-way through, the XMPP backend is killed and started again on its port (the
injected fault: XMPP sessions fail while it is away, and only then).

Pass: zero held sessions dropped (by reloads or anything else), zero failures outside the
backend's restart window, every reload applied, and at the end, with only the held sessions
left, ward's descriptors and sessions back at their baseline and RSS within 16 MiB of it.
Samples every 10 s. Writes bench/results/soak.{json,md}.
"""
import argparse
import datetime
import faulthandler
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from compare import raise_nofile  # noqa: E402
from hardening import DOMAIN, Bench, open_fds, scrape  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
HELD = 200


class Loop(threading.Thread):
    """One kind of traffic, as runs of `seconds` each, until stopped; failures kept with their times."""

    def __init__(self, name, bench, args, seconds=20):
        super().__init__(daemon=True)
        self.name, self.bench, self.args, self.seconds = name, bench, args, seconds
        self.stop_at = None
        self.runs = []

    def run(self):
        while self.stop_at is None or time.monotonic() < self.stop_at:
            began = time.monotonic()
            cmd = [self.bench.loadgen_bin] + self.args + ["--duration", str(self.seconds)]
            r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=raise_nofile, timeout=300)
            lines = [line for line in r.stdout.splitlines() if line.strip()]
            report = json.loads(lines[-1]) if lines else {"failed": -1, "failures": {"no report": r.stderr[-300:]}}
            self.runs.append({"began": began, "ended": time.monotonic(), "completed": report.get("completed", 0),
                              "failed": report.get("failed", 0), "failures": report.get("failures", {}),
                              "bytes": report.get("up", {}).get("bytes", 0) + report.get("down", {}).get("bytes", 0)})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    opts = ap.parse_args()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` prints where it is
    raise_nofile()
    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-soak-"))
    b = Bench(opts.build, work)
    try:
        return soak(b, opts, work)
    finally:
        b.stop()


def soak(b, opts, work):
    echo, xmpp, sip = b.backend("echo"), b.backend("xmpp"), b.backend("sip")
    proc, ports, metrics = None, None, None
    listeners = {"tls": ("tls", echo, ""), "xmpp": ("xmpp-client", xmpp, ""), "xmpps": ("xmpp-client-tls", xmpp, ""),
                 "sip": ("sip", sip, "")}

    def limits(flip):
        return f"{{ idle_timeout: {'1h' if flip else '59m'}, max_connections: 4000 }}"

    # Two workers on both cores: the soak looks for leaks and drops, not speed.
    proc, ports, metrics = b.ward("soak", limits(True), listeners, workers=2, cpus="0-1", level="info")
    config = work / "soak.yaml"

    held = b.background([b.loadgen_bin, "idle", "--connect", f"127.0.0.1:{ports['tls']}", "--connections",
                         str(HELD), "--hold", str(int(opts.minutes * 60 + 600))], idle_priority=False, cpus="0-1")
    first = json.loads(held.stdout.readline())
    time.sleep(2.0)

    def sample(label):
        fds, rss = open_fds(proc), proc.rss_kib()  # before the scrape's own connection
        active = scrape(metrics, "ward_sessions_active_total").get("", 0)
        return {"t": round(time.monotonic() - t0, 1), "label": label, "rss_kib": rss, "fds": fds,
                "sessions": int(active)}

    t0 = time.monotonic()
    baseline = sample("baseline")
    samples = [baseline]
    target = lambda name: ["--connect", f"127.0.0.1:{ports[name]}"]  # noqa: E731
    loops = [
        Loop("xmpp-starttls", b, ["handshake"] + target("xmpp") + ["--protocol", "xmpp-starttls", "--xmpp-domain", DOMAIN,
                                                                   "--concurrency", "2"]),
        Loop("xmpp-direct-tls", b, ["handshake"] + target("xmpps") + ["--protocol", "xmpp-tls", "--xmpp-domain", DOMAIN,
                                                                      "--concurrency", "2"]),
        Loop("sip-options", b, ["handshake"] + target("sip") + ["--protocol", "sip", "--concurrency", "2"]),
        Loop("bulk", b, ["bulk"] + target("tls") + ["--concurrency", "2", "--size", "16384"]),
    ]
    end = t0 + opts.minutes * 60
    for loop in loops:
        loop.stop_at = end
        loop.start()

    reloads, restart_window, flip, next_reload, next_sample = 0, None, True, t0 + 60, t0 + 10
    restart_at = t0 + opts.minutes * 30
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_reload:
            flip = not flip
            config.write_text(config.read_text().replace(limits(not flip), limits(flip)))
            os.kill(proc.p.pid, signal.SIGHUP)
            reloads += 1
            next_reload += 60
        if restart_window is None and now >= restart_at:
            p, port = b.backends[("xmpp", "1")]
            p.terminate()
            p.wait(timeout=10)
            down_from = time.monotonic()
            time.sleep(5.0)  # the backend is away for five seconds
            q = subprocess.Popen(["taskset", "-c", "1", b.loadgen_bin, "backend", "--listen", f"127.0.0.1:{port}",
                                  "--xmpp"], stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile,
                                 start_new_session=True)
            q.stdout.readline()
            b.backends[("xmpp", "1")] = (q, port)
            restart_window = (down_from, time.monotonic())
        if now >= next_sample:
            samples.append(sample("traffic"))
            next_sample += 10
        time.sleep(0.5)
    for loop in loops:
        loop.join()
    # The last sessions close and connections drain: back at the baseline within 30 s.
    for _ in range(30):
        time.sleep(1.0)
        final = sample("final")
        if final["fds"] == baseline["fds"] and final["sessions"] == baseline["sessions"]:
            break
    samples.append(final)

    held.send_signal(signal.SIGTERM)
    held_report = json.loads([line for line in held.communicate(timeout=120)[0].splitlines() if line.strip()][-1])
    log = (work / "soak.log").read_text()
    b.stop()

    def injected(run):
        if restart_window is None:
            return False
        return run["began"] <= restart_window[1] + 1 and run["ended"] >= restart_window[0]

    traffic = {}
    for loop in loops:
        outside = [r for r in loop.runs if not (loop.name.startswith("xmpp") and injected(r))]
        inside = [r for r in loop.runs if r not in outside]
        traffic[loop.name] = {
            "runs": len(loop.runs), "completed": sum(r["completed"] for r in loop.runs),
            "failed_outside_fault": sum(max(0, r["failed"]) for r in outside),
            "failed_during_backend_restart": sum(max(0, r["failed"]) for r in inside),
            "failures_outside_fault": [r["failures"] for r in outside if r["failed"]][:3],
            "mib": round(sum(r["bytes"] for r in loop.runs) / (1 << 20)),
        }
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "minutes": opts.minutes,
        "build": pathlib.Path(opts.build).name, "held_requested": HELD, "held_established": first["established"],
        "held_dropped": held_report.get("closed_by_peer", -1), "reloads": reloads,
        "reloads_logged": log.count("reloading "), "reloads_failed": log.count("reload failed"),
        "baseline": baseline, "final": final, "peak_rss_kib": max(s["rss_kib"] for s in samples),
        "peak_fds": max(s["fds"] for s in samples), "traffic": traffic, "samples": samples,
    }
    result["pass"] = (result["held_established"] == HELD and result["held_dropped"] == 0 and
                      result["reloads_failed"] == 0 and result["reloads_logged"] == reloads and
                      final["fds"] == baseline["fds"] and final["sessions"] == baseline["sessions"] and
                      final["rss_kib"] - baseline["rss_kib"] <= 16 * 1024 and
                      all(t["failed_outside_fault"] == 0 for t in traffic.values()))
    out = pathlib.Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    md = [f"# Soak ({result['when']}, {opts.minutes:g} minutes, {result['build']})", "",
          f"`bench/soak.py {' '.join(sys.argv[1:])}`: ward with 2 workers; {reloads} reloads (every minute, "
          f"{result['reloads_failed']} failed); the XMPP backend killed and restarted once.", "",
          "| | baseline | peak | final |", "|---|---:|---:|---:|",
          f"| ward RSS (KiB) | {baseline['rss_kib']:,} | {result['peak_rss_kib']:,} | {final['rss_kib']:,} |",
          f"| ward descriptors | {baseline['fds']:,} | {result['peak_fds']:,} | {final['fds']:,} |",
          f"| sessions | {baseline['sessions']:,} | {max(s['sessions'] for s in samples):,} | {final['sessions']:,} |", "",
          f"Held sessions: {result['held_established']} established, {result['held_dropped']} dropped.", "",
          "| traffic | runs | completed | failed (outside the fault) | failed while the backend was away | MiB |",
          "|---|---:|---:|---:|---:|---:|"]
    for name, t in traffic.items():
        md.append(f"| {name} | {t['runs']} | {t['completed']:,} | {t['failed_outside_fault']} | "
                  f"{t['failed_during_backend_restart']} | {t['mib']:,} |")
    md += ["", f"Pass: {'yes' if result['pass'] else 'NO'}", ""]
    (out / "soak.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
