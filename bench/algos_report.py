#!/usr/bin/env python3
"""Tables and JSON for bench/algos.sh (auto vs forced all_reduce algorithms, railcc-sim vs measured)."""
import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

AUTO_TARGET = 1.10  # auto within 10% of the best forced algorithm
SIM_TARGET = 0.30   # |predicted / measured - 1| within 30%
UNITS = {"B": 1, "bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def size_name(b):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift}{unit}"
    return str(b)


def perf_times(log):
    """size -> out-of-place time (us) from an all_reduce_perf table."""
    out = {}
    for line in Path(log).read_text(errors="replace").splitlines():
        f = line.split()
        if len(f) >= 9 and not line.startswith("#") and f[0].isdigit():
            try:
                out[int(f[0])] = float(f[5])
            except ValueError:
                pass
    return out


def auto_paths(log):
    """size -> the path(s) auto took, from RAILCC_DEBUG=algo lines of every rank."""
    pat = re.compile(r"all_reduce (\d+) (B|KiB|MiB|GiB|bytes) x \d+ ranks -> ([\w/]+)")
    paths = defaultdict(set)
    if Path(log).exists():
        for m in pat.finditer(Path(log).read_text(errors="replace")):
            paths[int(m.group(1)) * UNITS[m.group(2)]].add(m.group(3))
    return {s: "+".join(sorted(p)) for s, p in paths.items()}


def sim_times(log):
    """size -> {algo: predicted us} from railcc-sim's sweep saved in `log`."""
    return parse_sim(Path(log).read_text()) if Path(log).exists() else {}


def parse_sim(text):
    """size -> {algo: predicted us} from railcc-sim's sweep output (also used by fit_sim.py)."""
    out, algos = {}, []
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == "size":
            algos = f[1:-2]
            continue
        m = re.match(r"\s*(\d+)([KMG]?)\s+(.*)", line)
        if not m or not algos:
            continue
        cells = re.findall(r"skipped|FAIL|[\d.]+ \([\d.]+\)", m.group(3))
        out[int(m.group(1)) * UNITS[m.group(2)]] = {
            a: float(c.split()[0]) for a, c in zip(algos, cells) if c[0].isdigit()}
    return out


def fmt_us(t):
    return "-" if t is None else (f"{t:.1f}" if t < 1000 else f"{t:.0f}")


def main():
    ap = argparse.ArgumentParser()
    for a in ("--manifest", "--meta", "--log-dir", "--sim", "--algos", "--json"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    forced = args.algos.split()
    meta = dict(l.split("=", 1) for l in Path(args.meta).read_text().splitlines() if "=" in l)

    best = defaultdict(dict)  # (np) -> {(algo, size): best time}
    failed = []
    for line in Path(args.manifest).read_text().splitlines():
        np_, algo, rep, st, log = line.split("\t")
        if st != "0":
            failed.append({"np": int(np_), "algo": algo, "rep": int(rep), "status": int(st), "log": log})
        for size, t in perf_times(log).items():  # a failed run may still have finished some sizes
            key = (algo, size)
            best[int(np_)][key] = min(t, best[int(np_)].get(key, t))

    doc = {"benchmark": "bench/algos.sh all_reduce float32 sum, out of place, auto vs forced RAILCC_ALGO",
           "meta": meta, "targets": {"auto_over_best_forced": AUTO_TARGET, "sim_rel_error": SIM_TARGET},
           "failed_runs": failed, "np": {}}
    for np_ in sorted(best):
        times = best[np_]
        paths = auto_paths(Path(args.log_dir) / f"np{np_}_autodebug.txt")
        sizes = sorted({s for _, s in times})
        cols = forced + ["auto"]
        print(f"\nnp {np_}: all_reduce float sum, out-of-place time per call (us), best of REPEAT; "
              f"auto = RAILCC_ALGO unset; '<-' auto > {AUTO_TARGET:.2f}x best forced")
        print(f"{'size':>6} " + " ".join(f"{a:>9}" for a in cols) + f"  {'best':>6} {'auto path':>10} {'auto/best':>9}")
        rows, misses = [], []
        for s in sizes:
            t = {a: times.get((a, s)) for a in cols}
            have = {a: v for a, v in t.items() if a != "auto" and v is not None}
            b = min(have, key=have.get) if have else None
            ratio = t["auto"] / have[b] if b and t["auto"] is not None else None
            miss = ratio is not None and ratio > AUTO_TARGET
            if miss:
                misses.append(f"{size_name(s)} ({ratio:.2f}x, {paths.get(s, '?')} vs {b})")
            print(f"{size_name(s):>6} " + " ".join(f"{fmt_us(t[a]):>9}" for a in cols) +
                  f"  {b or '-':>6} {paths.get(s, '?'):>10} {'-' if ratio is None else f'{ratio:.2f}':>9}"
                  + (" <-" if miss else ""))
            rows.append({"size": s, "time_us": t, "best_forced": b, "auto_path": paths.get(s),
                         "auto_over_best": ratio, "miss": miss})
        n_ok = sum(1 for r in rows if r["auto_over_best"] is not None and not r["miss"])
        n_all = sum(1 for r in rows if r["auto_over_best"] is not None)
        print(f"np {np_}: auto within 10% of the best forced algorithm at {n_ok} of {n_all} sizes; "
              f"misses: {', '.join(misses) or 'none'}")
        entry = {"rows": rows, "misses": [r["size"] for r in rows if r["miss"]]}

        sim = sim_times(args.sim) if np_ == 4 else {}
        if sim:
            algos = [a for a in ("ring", "tree") if a in forced]
            cores = meta.get("sim_cores", "0")
            print(f"\nnp 4: railcc-sim (-n 4 --per-host 4 --cores-per-host {cores}, "
                  f"cost model from the environment) vs measured "
                  f"(us); '<-' |pred/meas - 1| > {SIM_TARGET:.0%}")
            print(f"{'size':>6}" + "".join(f" {a + ' ' + c:>11}" for a in algos for c in ("pred", "meas", "ratio")))
            srows, smiss = [], []
            for s in sizes:
                line, r = f"{size_name(s):>6}", {"size": s}
                for a in algos:
                    p, m = sim.get(s, {}).get(a), times.get((a, s))
                    q = p / m if p is not None and m else None
                    bad = q is not None and abs(q - 1) > SIM_TARGET
                    if bad:
                        smiss.append(f"{a} {size_name(s)} ({q:.2f})")
                    line += f" {fmt_us(p):>11} {fmt_us(m):>11} {'-' if q is None else f'{q:.2f}':>8}{' <-' if bad else '   '}"
                    r[a] = {"predicted_us": p, "measured_us": m, "ratio": q, "miss": bad}
                print(line.rstrip())
                srows.append(r)
            print(f"np 4: sim within 30% at {sum(1 for r in srows for a in algos if r[a]['ratio'] is not None and not r[a]['miss'])}"
                  f" of {sum(1 for r in srows for a in algos if r[a]['ratio'] is not None)} (algorithm, size) pairs; "
                  f"misses: {', '.join(smiss) or 'none'}")
            entry["sim"] = {"rows": srows, "misses": smiss}
        doc["np"][str(np_)] = entry
    if failed:
        runs = ", ".join(f"np {f['np']} {f['algo']} (status {f['status']})" for f in failed)
        print(f"\nFAILED runs: {runs}")
    Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
