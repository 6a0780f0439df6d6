#!/usr/bin/env python3
"""Fits railcc-sim's cost model for one host to a bench/algos.sh run (issue 7).

The simulator's model of shared memory has three constants: α (per message), the copy rate (GB/s
of one copy on one CPU) and the reduction rate (GB/s), plus how many CPUs the host's ranks share.
This searches a grid of the three for the one that predicts the run's measured np 4 ring and tree
times best (most (algorithm, size) pairs within 30%, then the least squared log error), and prints
the environment that sets it. Check the fit on a *different* run made with that environment:

    bench/fit_sim.py bench/results/algos-A.json        # prints RAILCC_COST_INTRA=... etc.
    RAILCC_COST_INTRA=... RAILCC_COST_REDUCE_GBPS=... ALGOS="ring tree" bench/algos.sh 4

(the library reads the same variables, so the second run's tree chunk follows the fitted model
too). Needs build/bin/railcc-sim.
"""
import argparse
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

from algos_report import parse_sim  # bench/ is on sys.path: this script's folder

TARGET = 0.30
ALPHA_US = [1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8, 10, 12, 15, 20]
COPY_GBPS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 48]
REDUCE_GBPS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48]


def predict(sim, cores, lo, hi, alpha, copy, reduce):
    out = subprocess.run(
        [sim, "-n", "4", "--per-host", "4", "--cores-per-host", str(cores), "--algos", "ring,tree",
         "-b", str(lo), "-e", str(hi), "-f", "2", "--intra", f"{alpha},{copy}",
         "--reduce-gbps", str(reduce)],
        capture_output=True, text=True, check=True).stdout
    return parse_sim(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="bench/results/algos-*.json with np 4 ring and tree")
    ap.add_argument("--sim", default="build/bin/railcc-sim")
    ap.add_argument("--cores", type=int, help="CPUs of the host (default: the run's cpus)")
    args = ap.parse_args()
    try:
        run = json.loads(Path(args.results).read_text())
        rows = run["np"]["4"]["rows"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"fit_sim.py: {args.results} is not a bench/algos.sh result with np 4 "
                 f"({type(e).__name__}: {e})")
    if not Path(args.sim).is_file():
        sys.exit(f"fit_sim.py: {args.sim} is missing; build it (cmake --build build --target "
                 f"railcc-sim) or pass --sim")
    meas = {r["size"]: r["time_us"] for r in rows
            if r["time_us"].get("ring") and r["time_us"].get("tree")}
    if not meas:
        sys.exit("fit_sim.py: the run has no np 4 sizes with both ring and tree times")
    cores = args.cores if args.cores is not None else int(run["meta"].get("cpus", 0))
    lo, hi = min(meas), max(meas)
    best = None
    for alpha, copy, reduce in itertools.product(ALPHA_US, COPY_GBPS, REDUCE_GBPS):
        pred = predict(args.sim, cores, lo, hi, alpha, copy, reduce)
        ratios = [pred[s][a] / meas[s][a] for s in meas for a in ("ring", "tree")]
        within = sum(abs(x - 1) <= TARGET for x in ratios)
        err = sum(math.log(x) ** 2 for x in ratios)
        key = (within, -err)
        if best is None or key > best[0]:
            best = (key, alpha, copy, reduce, pred)
    (within, _), alpha, copy, reduce, pred = best
    print(f"fit to {args.results} ({len(meas)} sizes, {cores} CPUs): alpha {alpha} us, "
          f"copy {copy} GB/s, reduce {reduce} GB/s: {within} of {2 * len(meas)} pairs within "
          f"{TARGET:.0%}")
    print(f"{'size':>10} {'ring pred/meas':>15} {'tree pred/meas':>15}")
    for s in sorted(meas):
        print(f"{s:>10} " + " ".join(f"{pred[s][a] / meas[s][a]:>15.2f}" for a in ("ring", "tree")))
    print(f"RAILCC_COST_INTRA={alpha},{copy} RAILCC_COST_REDUCE_GBPS={reduce} SIM_CORES={cores}")


if __name__ == "__main__":
    main()
