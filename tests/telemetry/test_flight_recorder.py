#!/usr/bin/env python3
"""Flight recorder and detailed traces end to end, through railcc-run and telemetry_probe:

  hang       one rank of 4 skips a collective; the others time out and dump, railcc-run has the
             skipping rank dump (SIGUSR1), and railcc-report names it and the op
  sigusr1    SIGUSR1 to every rank of a live job dumps its ops; the job carries on
  fatal      a rank is killed in op 3; the survivor dumps on the error; railcc-report names the
             dead rank
  rail_stall one of two rails stops moving bytes (RAILCC_FAULT=stall); railcc-report names that
             rail and the two ranks
  trace      RAILCC_TRACE over shared memory (3 ranks) and two rails (2 ranks): every rank's trace
             is valid Chrome trace JSON with op, step, kernel (and rail) spans; merge and --plot

usage: test_flight_recorder.py CASE RAILCC_RUN TELEMETRY_PROBE RAILCC_REPORT
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RUN = PROBE = REPORT = None
DIRS = []  # removed when the case passes, kept for a look when it fails


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    DIRS.append(d)
    return d


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def job(n, args, env_extra, timeout=90, hold_stdin=False):
    """Runs the probe on n ranks. hold_stdin: stdin stays open until the job ends (a rank that
    skips a collective waits for it to close, so it is alive when the others give up); else it
    is closed at once (the ranks exit after their ops)."""
    env = dict(os.environ, **env_extra)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([RUN, "-n", str(n), PROBE] + args, stdin=subprocess.PIPE,
                                stdout=out, stderr=err, text=True, env=env)
        if not hold_stdin:
            proc.stdin.close()
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            if hold_stdin:
                proc.stdin.close()
            if proc.poll() is None:
                proc.kill()
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read(), err.read())


def dumps(d):
    out = {}
    for path in glob.glob(os.path.join(d, "railcc-flight-rank*-comm1.json")):
        with open(path) as f:
            j = json.load(f)
        out[j["rank"]] = j
    return out


def report(d):
    r = subprocess.run([REPORT, d], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"railcc-report {d} exited {r.returncode}: {r.stderr}")
    return r.stdout


def op(dump, seq):
    return next((o for o in dump["ops"] if o["seq"] == seq and o["op"] != "send/recv"), None)


def case_hang(failures):
    d = tmpdir("railcc-flight-hang-")
    r = job(4, ["--skip-rank", "3", "--skip-op", "5", "--ops", "8"],
            {"RAILCC_FLIGHT_DIR": d, "RAILCC_TIMEOUT": "2"}, hold_stdin=True)
    if r.returncode == 0:
        failures.append("the job with a skipped collective succeeded")
    got = dumps(d)
    if sorted(got) != [0, 1, 2, 3]:
        failures.append(f"dumps from ranks {sorted(got)}, expected 0-3:\n{r.stderr}")
        return
    for rank in (0, 1, 2):
        o = op(got[rank], 5)
        if not o or o["state"] != "failed" or not o.get("waiting_on"):
            failures.append(f"rank {rank}: all_reduce #5 recorded as {o}")
        if got[rank]["failure_kind"] not in ("timeout", "error"):
            failures.append(f"rank {rank}: failure kind {got[rank]['failure_kind']}")
        if "timed out" not in got[rank]["failure"] and "failed" not in got[rank]["failure"]:
            failures.append(f"rank {rank}: failure {got[rank]['failure']!r}")
    if got[3]["reason"] != "signal":
        failures.append(f"rank 3 dumped for {got[3]['reason']}, expected railcc-run's SIGUSR1")
    if op(got[3], 5) is not None or op(got[3], 4)["state"] != "done":
        failures.append(f"rank 3's ops: {[(o['seq'], o['state']) for o in got[3]['ops']]}")
    text = report(d)
    if not re.search(r"^rank 3 never entered all_reduce #5 \(ranks 0-2 waiting since [0-9.]+ s\)",
                     text, re.M):
        failures.append("railcc-report did not name rank 3 and all_reduce #5:\n" + text)


def case_sigusr1(failures):
    d = tmpdir("railcc-flight-usr1-")
    env = dict(os.environ, RAILCC_FLIGHT_DIR=d, RAILCC_TIMEOUT="60", RAILCC_FLIGHT_RECORDER="4")
    proc = subprocess.Popen([RUN, "-n", "2", PROBE, "--ops", "7", "--count", "1024"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    pids = []
    while len(pids) < 2:
        line = proc.stdout.readline()
        if not line:
            failures.append("job ended before both ranks were ready: " + proc.stderr.read())
            return
        m = re.search(r"ready rank \d+ pid (\d+)", line)
        if m:
            pids.append(int(m.group(1)))
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 30  # generous: the dump thread runs on a shared 2-core host
    while len(dumps(d)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    _, err = proc.communicate(timeout=60)  # closing stdin ends the job
    if proc.returncode != 0:
        failures.append(f"job exited {proc.returncode} after SIGUSR1 (the handler must not kill "
                        f"it): {err}")
    got = dumps(d)
    if sorted(got) != [0, 1]:
        failures.append(f"SIGUSR1 dumps from ranks {sorted(got)}")
        return
    for rank, j in got.items():
        # Capacity 4: the last 4 of 7 all_reduces and the barrier, oldest first, all done.
        seqs = [(o["op"], o["seq"], o["state"]) for o in j["ops"]]
        want = [("all_reduce", 5, "done"), ("all_reduce", 6, "done"), ("all_reduce", 7, "done"),
                ("barrier", 8, "done")]
        if j["reason"] != "signal" or seqs != want or j["recorded"] != 8:
            failures.append(f"rank {rank}: reason {j['reason']}, ops {seqs}, recorded "
                            f"{j['recorded']}")
        if j["ops"][0]["bytes"] != 4096 or j["ops"][0]["dtype"] != "float":
            failures.append(f"rank {rank}: op sizes {j['ops'][0]}")
    text = report(d)
    if "no hang or failure recorded" not in text:
        failures.append("railcc-report on a healthy job:\n" + text)


def case_fatal(failures):
    d = tmpdir("railcc-flight-fatal-")
    r = job(2, ["--ops", "6"], {"RAILCC_FLIGHT_DIR": d, "RAILCC_TIMEOUT": "30",
                                "RAILCC_FAULT": "kill:1:3"})
    if r.returncode == 0:
        failures.append("a job with a killed rank succeeded")
    got = dumps(d)
    if sorted(got) != [0]:
        failures.append(f"dumps from ranks {sorted(got)}, expected rank 0 only:\n{r.stderr}")
        return
    j = got[0]
    o = op(j, 3)
    # Dumped on the error; railcc-run's SIGUSR1 (rank 1 died) may have rewritten it since, but
    # the first failure stays recorded.
    if j["failure_kind"] != "error" or j["reason"] not in ("error", "signal") or not o or \
            o["state"] != "failed":
        failures.append(f"rank 0: reason {j['reason']}, failure kind {j['failure_kind']}, "
                        f"all_reduce #3 {o}")
    if "rank 1" not in j["failure"]:
        failures.append(f"rank 0's recorded failure does not name rank 1: {j['failure']!r}")
    text = report(d)
    if not re.search(r"^rank 1 left no dump.*rank 0 waiting in all_reduce #3", text, re.M):
        failures.append("railcc-report did not name rank 1:\n" + text)


def case_rail_stall(failures):
    d = tmpdir("railcc-flight-rail-")
    # The failover would move the stalled rail's chunks after RAILCC_RAIL_TIMEOUT; an hour keeps
    # the rail hung until RAILCC_TIMEOUT, like a failover that is slower than the op's patience.
    r = job(2, ["--ops", "6", "--count", str(1 << 20)],
            {"RAILCC_FLIGHT_DIR": d, "RAILCC_TIMEOUT": "3", "RAILCC_TRANSPORT": "tcp",
             "RAILCC_RAILS": "lo,127.0.0.1", "RAILCC_RAIL_TIMEOUT": "3600",
             "RAILCC_FAULT": "stall:1:3"})
    if r.returncode == 0:
        failures.append("a job with a stalled rail succeeded")
    got = dumps(d)
    if sorted(got) != [0, 1]:
        failures.append(f"dumps from ranks {sorted(got)}:\n{r.stderr}")
        return
    for rank, j in got.items():
        o = op(j, 3)
        waits = (o or {}).get("waiting_on", [])
        if not any(w["peer"] == 1 - rank and w.get("rail_name") == "lo" for w in waits):
            failures.append(f"rank {rank}: all_reduce #3 waits {waits}, expected rank "
                            f"{1 - rank} on rail lo")
    text = report(d)
    if not re.search(r"^rail lo between rank 0 and rank 1 stalled", text, re.M):
        failures.append("railcc-report did not name rail lo between ranks 0 and 1:\n" + text)


def check_chrome_trace(path, failures):
    """The Trace Event Format's rules for the events we write; returns the events."""
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    for e in events:
        if e.get("ph") not in ("X", "M") or not isinstance(e.get("pid"), int) or \
                not isinstance(e.get("tid"), int) or not isinstance(e.get("name"), str):
            failures.append(f"{path}: malformed event {e}")
            break
        if e["ph"] == "X" and (not isinstance(e.get("ts"), (int, float)) or
                               not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0):
            failures.append(f"{path}: malformed span {e}")
            break
        if e["ph"] == "M" and "args" not in e:
            failures.append(f"{path}: metadata without args {e}")
            break
    return events


def case_trace(failures):
    for n, env, want in (
            # 1 MiB ops as messages (all-pairs steps), not through the mailbox.
            (3, {"RAILCC_SHM_MAILBOX_BYTES": "32K"}, {"op", "step", "kernel", "wait"}),
            (2, {"RAILCC_TRANSPORT": "tcp", "RAILCC_RAILS": "lo,127.0.0.1",
                 "RAILCC_RAIL_CHUNK_BYTES": "64K"}, {"op", "step", "kernel", "rail"})):
        d = tmpdir("railcc-trace-steps-")
        r = job(n, ["--ops", "6", "--count", str(1 << 18)], dict(env, RAILCC_TRACE=d))
        if r.returncode != 0:
            failures.append(f"traced job ({n} ranks, {env}) failed: {r.stderr}")
            continue
        for rank in range(n):
            path = os.path.join(d, f"railcc-trace-rank{rank}-comm1.json")
            if not os.path.exists(path):
                failures.append(f"no trace from rank {rank}")
                continue
            events = check_chrome_trace(path, failures)
            cats = {e.get("cat") for e in events if e["ph"] == "X"}
            if not want <= cats:
                failures.append(f"{n} ranks {env}: rank {rank} has span kinds {cats}, want {want}")
            steps = [e for e in events if e.get("cat") == "step"]
            peers = {e["args"]["peer"] for e in steps}
            if peers - set(range(n)) or rank in peers or not peers:
                failures.append(f"rank {rank}: step spans with peers {peers}")
            if "rail" in want:
                rails = {e["args"]["rail"] for e in events if e.get("cat") == "rail"}
                if rails != {"lo", "127.0.0.1"}:
                    failures.append(f"rank {rank}: chunks on rails {rails}")
        merged = os.path.join(d, "merged.json")
        m = subprocess.run([REPORT, "merge", d, "-o", merged], capture_output=True, text=True)
        if m.returncode != 0:
            failures.append(f"merge: {m.stderr}")
            continue
        events = check_chrome_trace(merged, failures)
        with_steps = {e["pid"] for e in events if e.get("cat") == "step"}
        if with_steps != set(range(n)):
            failures.append(f"merged trace has step spans for ranks {with_steps}")
        png = os.path.join(d, "plot.png")
        p = subprocess.run([REPORT, "--plot", png, d], capture_output=True, text=True)
        if p.returncode != 0:
            failures.append(f"--plot failed: {p.stdout}{p.stderr}")
        else:
            with open(png, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    failures.append(f"{png} is not a PNG")


def main():
    global RUN, PROBE, REPORT
    case, RUN, PROBE, REPORT = sys.argv[1:5]
    failures = []
    {"hang": case_hang, "sigusr1": case_sigusr1, "fatal": case_fatal,
     "rail_stall": case_rail_stall, "trace": case_trace}[case](failures)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures) + "\n  (files kept in " + " ".join(DIRS) + ")")
        return 1
    for d in DIRS:
        shutil.rmtree(d, ignore_errors=True)
    print(f"flight recorder / trace case '{case}': ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
