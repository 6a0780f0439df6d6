#!/usr/bin/env python3
"""Report for bench/compare.sh: parses the nccl-tests tables of railcc, Open MPI and Gloo,
prints one side-by-side table per world size and writes the JSON results file.

Every figure comes from the benchmarks' `time` column (microseconds per call, mean over ranks):
busbw = size / time * 2(n-1)/n (GB/s, 1 GB = 1e9 B), and the ratios railcc/peer are busbw ratios
(= peer time / railcc time), so they keep their precision where the printed busbw rounds to 0.00.
With several repeats, each library keeps its best (lowest) time per size.
"""

import argparse
import json
import math
import re
import sys

LIBS = ("railcc", "mpi", "gloo")
NAMES = {"railcc": "railcc", "mpi": "MPI", "gloo": "Gloo"}
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(.*)$")

# Targets of issue #4 (for the summary only).
TARGET_MIN_SIZE = 256 * 1024
TARGET_VS_MPI = 1.2
TARGET_VS_GLOO = 2.0


def num(tok):
    try:
        return float(tok)
    except ValueError:
        return None


def parse_table(path):
    """{size: {"oop": {time_us, algbw, busbw, wrong}, "ip": {...} or None}} from one log."""
    rows = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = ROW.match(line)
            if not m:
                continue
            size = int(m.group(1))
            cells = m.group(6).split()

            def cell(i):
                part = cells[i:i + 4]
                if len(part) < 3 or num(part[0]) is None:
                    return None
                wrong = part[3] if len(part) > 3 else "N/A"
                return {"time_us": num(part[0]), "algbw": num(part[1]), "busbw": num(part[2]),
                        "wrong": None if wrong == "N/A" else int(wrong)}

            oop = cell(0)
            if oop is None:
                continue
            rows[size] = {"oop": oop, "ip": cell(4)}
    return rows


def busbw(size, time_us, n):
    if not time_us or time_us <= 0:
        return None
    return size / (time_us * 1e-6) / 1e9 * 2.0 * (n - 1) / n


def fmt_bw(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    if v >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2e}"


def fmt_ratio(v):
    if v is None:
        return "-"
    if v < 1.0:  # never print a ratio below 1 as "1.00"
        return f"{math.floor(v * 100) / 100:.2f} <"
    return f"{v:.2f}"


def fmt_size(b):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if b >= div and b % div == 0:
            return f"{b // div}{unit}"
    return str(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--memcpy", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", help="also write the tables as Markdown here")
    args = ap.parse_args()

    meta = {}
    with open(args.meta) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    memcpy = {}
    with open(args.memcpy) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith("memcpy_"):
                memcpy[parts[0]] = float(parts[1])
    memcpy_gbps = memcpy.get("memcpy_GBps")

    # best[np][lib][size] = {"oop": cell, "ip": cell}
    best, failed, nps, libs_run = {}, [], [], []
    with open(args.manifest) as f:
        for line in f:
            np_s, lib, rep, status, path = line.rstrip("\n").split("\t")
            n = int(np_s)
            if n not in nps:
                nps.append(n)
            if lib not in libs_run:
                libs_run.append(lib)
            if status != "0":
                failed.append({"np": n, "lib": lib, "repeat": int(rep), "status": int(status),
                               "log": path})
            try:
                rows = parse_table(path)
            except OSError:
                rows = {}
            dest = best.setdefault(n, {}).setdefault(lib, {})
            for size, r in rows.items():
                cur = dest.get(size)
                if cur is None or r["oop"]["time_us"] < cur["oop"]["time_us"]:
                    ip = r["ip"]
                    if cur is not None and cur.get("ip") and (
                            ip is None or cur["ip"]["time_us"] < ip["time_us"]):
                        ip = cur["ip"]
                    dest[size] = {"oop": r["oop"], "ip": ip}
                elif r["ip"] and (not cur.get("ip") or r["ip"]["time_us"] < cur["ip"]["time_us"]):
                    cur["ip"] = r["ip"]

    doc = {
        "benchmark": "bench/compare.sh all_reduce float32 sum, out of place",
        "date": meta.get("date"),
        "command": meta.get("command"),
        "env": meta.get("env"),
        "railcc_buffers": meta.get("railcc_buffers", "plain"),
        "machine": {k: meta.get(k) for k in ("cpu_model", "cpus", "mem_total_kib", "kernel", "os",
                                             "hypervisor", "loadavg_start", "loadavg_end")},
        "versions": {k: meta.get(k) for k in ("railcc_commit", "railcc_binary_mtime", "openmpi", "gloo",
                                              "compiler")},
        "bands": meta.get("bands"),
        "elapsed_s": int(meta.get("elapsed_s", "0") or 0),
        "other_processes_cpu_s": float(meta.get("other_cpu_s", "0") or 0),
        "memcpy": {"GBps": memcpy_gbps, "mean_GBps": memcpy.get("memcpy_mean_GBps"),
                   "buffer_MiB": 64, "threads": 1},
        "notes": "busbw = size/time * 2(n-1)/n, GB/s (1e9 B); ratio = railcc busbw / peer busbw "
                 "(out of place); time_us is the mean over ranks of time per call",
        "failed_runs": failed,
        "np": {},
    }

    out = sys.stdout
    md = [f"all_reduce float32 sum, out of place. busbw in GB/s (1 GB = 1e9 B) = size/time x 2(n-1)/n; "
          f"ratio = railcc busbw / peer busbw (< 1: railcc slower, marked `<`). Single-thread memcpy "
          f"(64 MiB, best of 10): {memcpy_gbps if memcpy_gbps is not None else '-'} GB/s.", ""]
    print(f"\n# all_reduce float32 sum, out of place: busbw (GB/s) = size/time * 2(n-1)/n;"
          f" ratio = railcc busbw / peer busbw ('<': railcc slower)", file=out)
    print(f"# single-thread memcpy, 64 MiB: {memcpy_gbps if memcpy_gbps is not None else '-'} GB/s",
          file=out)
    print(f"# railcc's buffers: {meta.get('railcc_buffers', 'plain')}; the peers': plain", file=out)
    md[0] += f" railcc's buffers: {meta.get('railcc_buffers', 'plain')}; the peers': plain."
    for n in nps:
        libs = best.get(n, {})
        sizes = sorted(set().union(*[set(v.keys()) for v in libs.values()]) if libs else [])
        table = []
        print(f"\n## np = {n}", file=out)
        hdr = (f"{'size':>10} {'(B)':>10} {'railcc':>9} {'MPI':>9} {'Gloo':>9} "
               f"{'vs MPI':>8} {'vs Gloo':>8}")
        print(hdr, file=out)
        print("-" * len(hdr), file=out)
        md += [f"### np = {n}", "",
               "| size | railcc busbw | MPI busbw | Gloo busbw | railcc / MPI | railcc / Gloo |",
               "|-----:|-------------:|----------:|-----------:|-------------:|--------------:|"]
        for size in sizes:
            t = {lib: (libs.get(lib, {}).get(size) or {}).get("oop", {}).get("time_us")
                 for lib in LIBS}
            bw = {lib: busbw(size, t[lib], n) for lib in LIBS}
            r_mpi = t["mpi"] / t["railcc"] if t["mpi"] and t["railcc"] else None
            r_gloo = t["gloo"] / t["railcc"] if t["gloo"] and t["railcc"] else None
            print(f"{fmt_size(size):>10} {size:>10} {fmt_bw(bw['railcc']):>9} {fmt_bw(bw['mpi']):>9} "
                  f"{fmt_bw(bw['gloo']):>9} {fmt_ratio(r_mpi):>8} {fmt_ratio(r_gloo):>8}", file=out)
            md.append(f"| {fmt_size(size)} | {fmt_bw(bw['railcc'])} | {fmt_bw(bw['mpi'])} | "
                      f"{fmt_bw(bw['gloo'])} | {fmt_ratio(r_mpi)} | {fmt_ratio(r_gloo)} |")
            row = {"size": size}
            for lib in LIBS:
                row[f"{lib}_time_us"] = t[lib]
                row[f"{lib}_busbw"] = bw[lib]
            row["ratio_vs_mpi"] = r_mpi
            row["ratio_vs_gloo"] = r_gloo
            table.append(row)

        lat = {lib: (libs.get(lib, {}).get(8) or {}).get("oop", {}).get("time_us") for lib in LIBS}
        lat_s = ", ".join(f"{NAMES[lib]} {lat[lib]:.2f} us" if lat[lib] is not None
                          else f"{NAMES[lib]} -" for lib in LIBS)
        print(f"8 B latency: {lat_s}", file=out)
        md += ["", f"8 B latency (time per call, mean over ranks): {lat_s}.", ""]

        # Summary against the targets.
        below_mpi = [r for r in table if r["ratio_vs_mpi"] is not None and r["ratio_vs_mpi"] < 1]
        below_gloo = [r for r in table if r["ratio_vs_gloo"] is not None and r["ratio_vs_gloo"] < 1]
        miss_mpi = [r["size"] for r in table if r["size"] >= TARGET_MIN_SIZE
                    and r["ratio_vs_mpi"] is not None and r["ratio_vs_mpi"] < TARGET_VS_MPI]
        miss_gloo = [r["size"] for r in table if r["size"] >= TARGET_MIN_SIZE
                     and r["ratio_vs_gloo"] is not None and r["ratio_vs_gloo"] < TARGET_VS_GLOO]
        print(f"railcc below MPI at: {', '.join(fmt_size(r['size']) for r in below_mpi) or 'none'}",
              file=out)
        print(f"railcc below Gloo at: {', '.join(fmt_size(r['size']) for r in below_gloo) or 'none'}",
              file=out)
        print(f"targets (>= 256K): >= {TARGET_VS_MPI}x MPI missed at "
              f"{', '.join(fmt_size(s) for s in miss_mpi) or 'none'}; >= {TARGET_VS_GLOO}x Gloo missed at "
              f"{', '.join(fmt_size(s) for s in miss_gloo) or 'none'}", file=out)
        lat_ok = (lat["railcc"] <= lat["mpi"]) if lat["railcc"] and lat["mpi"] else None
        print(f"target 8 B latency <= MPI: {'-' if lat_ok is None else ('met' if lat_ok else 'missed')}",
              file=out)
        mem_frac = None
        if n == 2 and memcpy_gbps:
            r64 = next((r for r in table if r["size"] == 64 << 20), None)
            if r64 and r64["railcc_busbw"]:
                mem_frac = r64["railcc_busbw"] / memcpy_gbps
                print(f"target 64M busbw >= 50% of memcpy: {r64['railcc_busbw']:.2f} / {memcpy_gbps:.2f}"
                      f" = {mem_frac:.0%} ({'met' if mem_frac >= 0.5 else 'missed'})", file=out)

        doc["np"][str(n)] = {
            "table": table,
            "latency_8B_us": lat,
            "below_mpi": [r["size"] for r in below_mpi],
            "below_gloo": [r["size"] for r in below_gloo],
            "targets": {"min_size": TARGET_MIN_SIZE, "vs_mpi": TARGET_VS_MPI,
                        "vs_gloo": TARGET_VS_GLOO, "missed_vs_mpi": miss_mpi,
                        "missed_vs_gloo": miss_gloo, "latency_8B_le_mpi": lat_ok,
                        "busbw_64M_over_memcpy": mem_frac},
            "raw": {lib: [{"size": s, "out_of_place": v["oop"], "in_place": v["ip"]}
                          for s, v in sorted(libs.get(lib, {}).items())] for lib in libs_run},
        }
    if failed:
        print(f"\nFAILED runs: " + "; ".join(f"np {x['np']} {x['lib']} (status {x['status']}, "
                                              f"{x['log']})" for x in failed), file=out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
