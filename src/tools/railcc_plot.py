#!/usr/bin/env python3
"""railcc-report --plot: per-rail throughput over time and the collective latency histogram,
drawn from the per-rank traces in a RAILCC_TRACE directory (every rank's clock aligned on the
wall clock, as `railcc-report merge` does).

usage: railcc_plot.py TRACE_DIR OUT.png

Throughput: the bytes of every chunk written on each rail (multi-rail traces, "rail" spans), by
all ranks, per time bin; a trace without rails shows the bytes sent to each peer ("step" spans)
instead. Latency: a histogram of the duration of every collective ("op" spans) on every rank,
per op, on log-spaced bins.
"""
import glob
import json
import math
import os
import sys
from collections import defaultdict


def load(trace_dir):
    events = []
    for path in sorted(glob.glob(os.path.join(trace_dir, "railcc-trace-rank*.json"))):
        with open(path) as f:
            trace = json.load(f)
        offset = trace.get("otherData", {}).get("wall_offset_us", 0.0)
        for e in trace.get("traceEvents", []):
            if e.get("ph") == "X":
                e["ts"] = e["ts"] + offset
                events.append(e)
    return events


def throughput_series(events, nbins=120):
    """{label: (bin centers in s, MB/s)} from rail chunk spans, else from send steps."""
    rail = [e for e in events if e.get("cat") == "rail"]
    if rail:
        key = lambda e: "rail " + e["args"]["rail"]
        spans = rail
    else:
        spans = [e for e in events if e.get("cat") == "step" and e["args"].get("direction") ==
                 "send"]
        key = lambda e: "to rank {}".format(e["args"]["peer"])
    spans = [e for e in spans if e["args"].get("bytes", 0) > 0]  # barriers move no data
    if not spans:
        return {}, 0
    t0 = min(e["ts"] for e in spans)
    t1 = max(e["ts"] + e["dur"] for e in spans)
    width = max((t1 - t0) / nbins, 1.0)  # us
    series = defaultdict(lambda: [0.0] * nbins)
    for e in spans:
        # A span's bytes are spread evenly over the bins it covers.
        start, end = e["ts"] - t0, e["ts"] - t0 + max(e["dur"], 1e-3)
        first, last = int(start // width), int(min(end, t1 - t0 - 1e-9) // width)
        last = min(max(last, first), nbins - 1)
        first = min(first, nbins - 1)
        for b in range(first, last + 1):
            lo, hi = max(start, b * width), min(end, (b + 1) * width)
            share = (hi - lo) / (end - start) if end > start else 1.0
            series[key(e)][b] += e["args"]["bytes"] * max(share, 0.0)
    centers = [(b + 0.5) * width / 1e6 for b in range(nbins)]
    out = {k: (centers, [v / (width / 1e6) / 1e6 for v in vals]) for k, vals in series.items()}
    return out, width


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    trace_dir, out = sys.argv[1:3]
    events = load(trace_dir)
    if not events:
        print(f"railcc_plot: no railcc-trace-rank*.json spans in {trace_dir} "
              f"(run with RAILCC_TRACE={trace_dir})", file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("railcc_plot: needs matplotlib (Debian: apt-get install python3-matplotlib)",
              file=sys.stderr)
        return 2

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8))
    series, width = throughput_series(events)
    for label, (x, y) in sorted(series.items()):
        top.plot(x, y, label=label)
    top.set_title("Throughput per rail, all ranks ({:.0f} ms bins)".format(width / 1000))
    top.set_xlabel("time since the first transfer (s)")
    top.set_ylabel("MB/s")
    if series:
        top.legend()
    top.grid(alpha=0.3)

    ops = defaultdict(list)
    for e in events:
        if e.get("cat") == "op":
            ops[e["name"]].append(max(e["dur"], 0.01))
    if ops:
        lo = min(min(v) for v in ops.values())
        hi = max(max(v) for v in ops.values())
        lo_exp, hi_exp = math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1e-9
        steps = max(int((hi_exp - lo_exp) * 8), 1)
        bins = [10 ** (lo_exp + i * (hi_exp - lo_exp) / steps) for i in range(steps + 1)]
        for name, durs in sorted(ops.items()):
            bottom.hist(durs, bins=bins, alpha=0.6, label="{} ({} ops)".format(name, len(durs)))
        bottom.set_xscale("log")
        bottom.legend()
    bottom.set_title("Collective latency, every rank")
    bottom.set_xlabel("duration (us)")
    bottom.set_ylabel("ops")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"railcc_plot: wrote {out} ({len(series)} rail series, "
          f"{sum(len(v) for v in ops.values())} ops)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
