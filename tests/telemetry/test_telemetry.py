#!/usr/bin/env python3
"""Telemetry end to end: Prometheus metrics scraped over HTTP from every rank and parsed with
prometheus_client's parser, a straggler named in a warning and a metric, and per-rank traces
merged by railcc-report into one timeline.

usage: test_telemetry.py RAILCC_RUN TELEMETRY_PROBE RAILCC_REPORT
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def free_port_pair():
    """A base port whose next port is free too (rank r serves on base + r)."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base >= 65535:
            continue
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free pair of ports")


def samples(text):
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def start_job(what, cmd, env):
    """Starts a 2-rank job of the probe and returns once both ranks printed "ready"."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    ready = 0
    while ready < 2:
        line = proc.stdout.readline()
        if not line:
            print(proc.stderr.read())
            raise SystemExit(f"{what} ended before both ranks were ready")
        ready += "ready" in line
    return proc


def main():
    railcc_run, probe, report = sys.argv[1:4]
    base = free_port_pair()
    trace_dir = tempfile.mkdtemp(prefix="railcc-trace-")
    # The probe's 256 KiB ops would fit the shared-memory mailbox, which moves no messages; a
    # smaller mailbox sends them as messages, so the shm byte counters have something to count.
    env = dict(os.environ, RAILCC_METRICS=str(base), RAILCC_TRACE=trace_dir, RAILCC_TIMEOUT="60",
               RAILCC_SHM_MAILBOX_BYTES="32K")
    proc = start_job("job", [railcc_run, "-n", "2", probe, "--slow-rank", "1", "--ops", "12"],
                     env)
    failures = []
    scraped = {}
    for rank in (0, 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + rank}/metrics", timeout=10) as r:
            assert r.status == 200, r.status
            ctype = r.headers.get("Content-Type", "")
            if "text/plain" not in ctype or "0.0.4" not in ctype:
                failures.append(f"rank {rank}: content type {ctype!r}")
            scraped[rank] = samples(r.read().decode())
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{base}/nope", timeout=10)
        failures.append("/nope did not answer 404")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            failures.append(f"/nope answered {e.code}")
    _, err = proc.communicate(timeout=60)  # closes stdin: the ranks exit
    if proc.returncode != 0:
        failures.append(f"job exited with {proc.returncode}: {err}")

    for rank, m in scraped.items():
        counts = [v for labels, v in m.get("railcc_collective_duration_seconds_count", [])
                  if labels.get("op") == "all_reduce" and labels.get("rank") == str(rank)]
        if not counts or sum(counts) < 12:
            failures.append(f"rank {rank}: all_reduce count {counts}, expected >= 12")
        buckets = [(labels["le"], v) for labels, v in
                   m.get("railcc_collective_duration_seconds_bucket", [])
                   if labels.get("op") == "all_reduce"]
        if not any(le == "+Inf" for le, _ in buckets):
            failures.append(f"rank {rank}: histogram has no +Inf bucket")
        rails = {(l["rail"], l["direction"]): v for l, v in m.get("railcc_rail_bytes_total", [])}
        if rails.get(("shm", "tx"), 0) < 12 * 65536 * 4 / 2:
            failures.append(f"rank {rank}: shm tx bytes {rails}")
        if "railcc_rail_throughput_bytes_per_second" not in m:
            failures.append(f"rank {rank}: no throughput gauge")
    # Rank 0 waited on rank 1, the straggler, in most ops.
    waits = {l["peer"]: v for l, v in scraped[0].get("railcc_peer_wait_seconds_total", [])}
    if waits.get("1", 0) < 0.2:
        failures.append(f"rank 0: peer wait {waits}, expected >= 0.2 s on peer 1")
    late = {l["straggler"]: v for l, v in scraped[0].get("railcc_straggler_events_total", [])}
    if late.get("1", 0) < 5:
        failures.append(f"rank 0: straggler events {late}, expected >= 5 for rank 1")
    if "rank 1 is a straggler" not in err:
        failures.append("no warning naming rank 1 as a straggler:\n" + err)

    merged = os.path.join(trace_dir, "merged.json")
    out = subprocess.run([report, "merge", trace_dir, "-o", merged], capture_output=True,
                         text=True)
    if out.returncode != 0:
        failures.append(f"railcc-report merge failed: {out.stderr}")
    else:
        trace = json.load(open(merged))
        ops = [e for e in trace["traceEvents"] if e.get("cat") == "op"]
        pids = {e["pid"] for e in ops}
        if pids != {0, 1}:
            failures.append(f"merged trace has op spans for ranks {pids}")
        if min(e["ts"] for e in trace["traceEvents"] if "ts" in e) != 0:
            failures.append("merged trace does not start at 0")
        # Ranks leave each all_reduce together: aligned clocks put their ends close together.
        ends = {}
        for e in ops:
            if e["name"] == "all_reduce":
                ends.setdefault(e["args"]["seq"], []).append(e["ts"] + e["dur"])
        skew = [max(v) - min(v) for v in ends.values() if len(v) == 2]
        if not skew or sorted(skew)[len(skew) // 2] > 20000:
            failures.append(f"ranks' op ends differ by {skew} us after merging")
        waits = [e for e in trace["traceEvents"] if e.get("cat") == "wait"]
        if not waits:
            failures.append("no wait spans in the trace")

    # Multi-rail: one series per rail, named as in RAILCC_RAILS, with bytes both ways.
    base = free_port_pair()
    env = dict(os.environ, RAILCC_METRICS=str(base), RAILCC_TRANSPORT="tcp",
               RAILCC_RAILS="lo,127.0.0.1", RAILCC_RAIL_CHUNK_BYTES="16K", RAILCC_TIMEOUT="60")
    proc = start_job("multi-rail job", [railcc_run, "-n", "2", probe, "--ops", "5"], env)
    with urllib.request.urlopen(f"http://127.0.0.1:{base}/metrics", timeout=10) as r:
        m = samples(r.read().decode())
    proc.communicate(timeout=60)
    rails = {(l["rail"], l["direction"]): v for l, v in m.get("railcc_rail_bytes_total", [])}
    for rail in ("lo", "127.0.0.1"):
        for direction in ("tx", "rx"):
            if rails.get((rail, direction), 0) <= 0:
                failures.append(f"multi-rail: no {direction} bytes on rail {rail}: {rails}")

    # No straggler where none is late: 32 MiB ops over tcp wait on the peer's bytes for most of
    # their time, on both ranks at once, and neither rank may name the other.
    base = free_port_pair()
    env = dict(os.environ, RAILCC_METRICS=str(base), RAILCC_TRANSPORT="tcp", RAILCC_TIMEOUT="60")
    proc = start_job("tcp job", [railcc_run, "-n", "2", probe, "--ops", "8", "--count",
                                 "8388608"], env)
    for rank in (0, 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + rank}/metrics", timeout=10) as r:
            m = samples(r.read().decode())
        late = {l["straggler"]: v for l, v in m.get("railcc_straggler_events_total", [])}
        waits = {l["peer"]: v for l, v in m.get("railcc_peer_wait_seconds_total", [])}
        # Every op counted one before; a rank starved of CPU on a loaded machine may still
        # really come late to an op or two.
        if sum(late.values()) >= 4:
            failures.append(f"tcp, nobody late: rank {rank} counted straggler events {late} "
                            f"in 8 ops (peer waits {waits})")
    _, err = proc.communicate(timeout=60)
    if "is a straggler" in err:
        failures.append("tcp, nobody late: a straggler was named:\n" + err)

    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("telemetry: metrics of 2 ranks scraped and parsed, straggler named (and none where "
          "nobody is late), traces merged, per-rail bytes counted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
