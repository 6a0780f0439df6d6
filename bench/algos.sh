#!/usr/bin/env bash
# bench/algos.sh [NP...]: is RAILCC_ALGO=auto as fast as the best forced all_reduce algorithm, and
# does railcc-sim predict the measured times? (issue 7; a benchmark, not a test). One host.
#
# For every NP (default: 4 8) it runs, per size band and algorithm in turn (so slow drifts of the
# machine's load hit all alike):
#   build/bin/railcc-run -n NP --no-prefix build/bin/all_reduce_perf -b .. -e .. -f 2 -c 0 -n ITERS
# once with RAILCC_ALGO unset (auto) and once with RAILCC_ALGO=<a> for each a in ALGOS. auto also
# takes paths a forced RAILCC_ALGO turns off: the shared-memory mailbox (<= RAILCC_SHM_MAILBOX_BYTES,
# 2 MiB) and all_pairs single copy (from RAILCC_SHM_SINGLE_COPY_BYTES/4 with 3+ ranks). Which
# path auto took per size comes from one extra short run with RAILCC_DEBUG=algo (-n 1, untimed).
# hier is left out by default: on one host it does not apply (the selector never predicts it), and
# faking hosts with RAILCC_RANKS_PER_HOST changes the layout auto would see as well, so it is not
# an alternative auto could choose. ALGOS="... hier" runs it anyway, with RAILCC_RANKS_PER_HOST=2.
#
# Prints per NP: size, out-of-place time (us) of every algorithm, the best forced one, auto's
# path, auto/best (marked "<-" above 1.10), then the sizes that miss the 10% target. For NP=4 it
# also runs railcc-sim (--per-host 4: one host, shared memory; --cores-per-host SIM_CORES: the 4
# ranks share this machine's CPUs for their copies and reductions; cost model from
# RAILCC_COST_INTRA / RAILCC_COST_REDUCE_GBPS / RAILCC_CHUNK_BYTES, as the library reads them) for
# ring and tree and prints predicted vs measured (marked where |pred/meas - 1| > 30%). To predict
# this machine, fit the cost model to one run with bench/fit_sim.py and check it on another run
# with the fitted RAILCC_COST_* set (the library then reads them too). JSON:
# bench/results/algos-<date>.json.
#
# Sizes double from MIN_BYTES to MAX_BYTES, in three bands with their own iteration counts:
#   size <= 64 KiB: ITERS_SMALL;  <= 4 MiB: ITERS_MID;  larger: ITERS_LARGE.
# Environment (defaults in brackets):
#   MIN_BYTES [8]  MAX_BYTES [256M]   K/M/G suffixes (powers of 1024); MAX_BYTES=64M is a quick run
#   ITERS_SMALL [500] ITERS_MID [100] ITERS_LARGE [20]   timed calls per size; WARMUP [2] (-w)
#   REPEAT [2]     the whole sequence runs REPEAT times; each size keeps each algorithm's best time
#   ALGOS ["ring tree hd rd direct"]   forced algorithms compared with auto
#   SIM_CORES [nproc]  CPUs railcc-sim gives the one modelled host (0: no CPU model, a rank's
#                  sends and receives overlap like a full-duplex link's)
#   BUILD_DIR [build]  RESULTS_DIR [bench/results]  OUT [RESULTS_DIR/algos-<date>.json; when that
#                  exists, algos-<date>-<HHMMSS>.json]  LOG_DIR [BUILD_DIR/algos-logs/<stamp>]
#   RUN_TIMEOUT [600] seconds per benchmark run (a run that fails or times out prints FAILED and
#                  the script goes on; its sizes show "-")
# Needs build/bin/all_reduce_perf, railcc-run and railcc-sim (cmake -DRAILCC_BUILD_BENCH=ON, then
# cmake --build build --target all_reduce_perf railcc-run railcc-sim).
# Exit status: 0, 1 when a run failed, 2 for bad arguments.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
note() { echo "algos.sh: $*" >&2; }
usage() { echo "usage: $0 [NP...]  (each NP an integer >= 2; default: 4 8)" >&2; exit 2; }

NPS=("$@")
[[ ${#NPS[@]} -gt 0 ]] || NPS=(4 8)
for np in "${NPS[@]}"; do [[ $np =~ ^[0-9]+$ && $np -ge 2 ]] || usage; done
BUILD_DIR=${BUILD_DIR:-build}
MIN_BYTES=${MIN_BYTES:-8} MAX_BYTES=${MAX_BYTES:-256M}
ITERS_SMALL=${ITERS_SMALL:-500} ITERS_MID=${ITERS_MID:-100} ITERS_LARGE=${ITERS_LARGE:-20}
WARMUP=${WARMUP:-2} REPEAT=${REPEAT:-2} RUN_TIMEOUT=${RUN_TIMEOUT:-600}
SIM_CORES=${SIM_CORES:-$(nproc)}
read -ra ALGOS <<<"${ALGOS:-ring tree hd rd direct}"
RESULTS_DIR=${RESULTS_DIR:-bench/results}
STAMP=$(date +%Y-%m-%d-%H%M%S)
LOG_DIR=${LOG_DIR:-$BUILD_DIR/algos-logs/$STAMP}
for v in ITERS_SMALL ITERS_MID ITERS_LARGE REPEAT RUN_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || { note "$v must be a positive integer"; exit 2; }
done
[[ $SIM_CORES =~ ^[0-9]+$ ]] || { note "SIM_CORES must be an integer >= 0"; exit 2; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { note "WARMUP must be an integer >= 0"; exit 2; }
for a in "${ALGOS[@]}"; do
  [[ $a =~ ^(ring|tree|hd|rd|hier|direct)$ ]] || { note "unknown algorithm '$a' in ALGOS"; exit 2; }
done

to_bytes() {  # "256M" -> 268435456 (powers of 1024, like the benchmarks' flags)
  [[ $1 =~ ^([0-9]+)([KkMmGg]?)[Bb]?$ ]] || { note "'$1' is not a size (e.g. 8, 512K, 64M)"; exit 2; }
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
    K|k) n=$((n << 10)) ;; M|m) n=$((n << 20)) ;; G|g) n=$((n << 30)) ;;
  esac
  echo "$n"
}
MINB=$(to_bytes "$MIN_BYTES")
MAXB=$(to_bytes "$MAX_BYTES")
[[ $MINB -ge 4 && $MINB -le $MAXB ]] || { note "need 4 <= MIN_BYTES <= MAX_BYTES"; exit 2; }
for b in all_reduce_perf railcc-run railcc-sim; do
  [[ -x $BUILD_DIR/bin/$b ]] || { note "$BUILD_DIR/bin/$b is missing; build it first (see the header)"; exit 1; }
done
command -v python3 >/dev/null || { note "python3 is needed for the report"; exit 1; }
mkdir -p "$LOG_DIR" "$RESULTS_DIR"

# Bands "first last iters": the doubling sizes in (0, 64K], (64K, 4M], (4M, inf).
bands=()
add_band() {
  local first="" last="" s
  for ((s = MINB; s <= MAXB; s *= 2)); do
    if [[ $s -gt $1 && $s -le $2 ]]; then
      first=${first:-$s}
      last=$s
    fi
  done
  [[ -z $first ]] || bands+=("$first $last $3")
}
add_band 0 65536 "$ITERS_SMALL"
add_band 65536 4194304 "$ITERS_MID"
add_band 4194304 $((1 << 62)) "$ITERS_LARGE"

run_perf() {  # np algo first last iters warmup log [extra env...]: rank 0's table (and stderr) to log
  local np=$1 algo=$2 first=$3 last=$4 iters=$5 warmup=$6 log=$7
  shift 7
  local env_=(env -u RAILCC_ALGO -u RAILCC_RANKS_PER_HOST "$@")
  [[ $algo == auto ]] || env_+=("RAILCC_ALGO=$algo")
  [[ $algo != hier ]] || env_+=(RAILCC_RANKS_PER_HOST=2)
  timeout -k 10 "$RUN_TIMEOUT" "${env_[@]}" "$BUILD_DIR/bin/railcc-run" -n "$np" --no-prefix \
    "$BUILD_DIR/bin/all_reduce_perf" -b "$first" -e "$last" -f 2 -c 0 -n "$iters" -w "$warmup" \
    >"$log" 2>&1
}

manifest=$LOG_DIR/manifest.tsv  # np algo rep status log
: >"$manifest"
failures=0
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
note "logs in $LOG_DIR; bands (first last iters): $(printf '[%s] ' "${bands[@]}"); load $loadavg_start"
t_start=$(date +%s)
for np in "${NPS[@]}"; do  # which path auto takes per size (debug logging is not timed)
  log=$LOG_DIR/np${np}_autodebug.txt
  st=0
  run_perf "$np" auto "$MINB" "$MAXB" 1 0 "$log" RAILCC_DEBUG=algo || st=$?
  [[ $st == 0 ]] || { note "np $np auto with RAILCC_DEBUG=algo: FAILED (status $st), see $log"; failures=$((failures + 1)); }
done
for ((rep = 1; rep <= REPEAT; rep++)); do
  for np in "${NPS[@]}"; do
    for b in "${bands[@]}"; do
      read -r first last iters <<<"$b"
      for algo in auto "${ALGOS[@]}"; do
        log=$LOG_DIR/np${np}_${algo}_r${rep}_${first}-${last}.txt
        t0=$(date +%s)
        st=0
        run_perf "$np" "$algo" "$first" "$last" "$iters" "$WARMUP" "$log" || st=$?
        note "np $np $algo ${first}..${last} B x$iters: $(($(date +%s) - t0))s$([[ $st == 0 ]] || echo ", FAILED (status $st), see $log")"
        if [[ $st != 0 ]]; then
          failures=$((failures + 1))
          tail -n 3 "$log" | sed 's/^/    /' >&2 || true
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$np" "$algo" "$rep" "$st" "$log" >>"$manifest"
      done
    done
  done
done
elapsed=$(($(date +%s) - t_start))

sim=$LOG_DIR/sim_np4.txt
if [[ " ${NPS[*]} " == *" 4 "* ]]; then
  "$BUILD_DIR/bin/railcc-sim" -n 4 --per-host 4 --cores-per-host "$SIM_CORES" --algos ring,tree \
    -b "$MINB" -e "$MAXB" -f 2 >"$sim" 2>&1 ||
    { note "railcc-sim FAILED, see $sim"; failures=$((failures + 1)); }
fi

OUT=${OUT:-$RESULTS_DIR/algos-$(date +%Y-%m-%d).json}
[[ ! -e $OUT ]] || OUT=${OUT%.json}-$(date +%H%M%S).json
meta=$LOG_DIR/meta.env
{
  echo "date=$(date -Iseconds)"
  echo "command=bench/algos.sh ${NPS[*]}"
  echo "env=MIN_BYTES=$MIN_BYTES MAX_BYTES=$MAX_BYTES ITERS_SMALL=$ITERS_SMALL ITERS_MID=$ITERS_MID ITERS_LARGE=$ITERS_LARGE WARMUP=$WARMUP REPEAT=$REPEAT ALGOS=${ALGOS[*]}"
  echo "cost_env=$(env | grep -E '^RAILCC_(COST_|CHUNK_BYTES|SHM_)' | tr '\n' ' ' || true)"
  echo "cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
  echo "cpus=$(nproc)"
  echo "sim_cores=$SIM_CORES"
  echo "railcc_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+dirty')"
  echo "railcc_binary_mtime=$(date -u -r "$BUILD_DIR/bin/all_reduce_perf" +%Y-%m-%dT%H:%M:%SZ)"
  echo "loadavg_start=$loadavg_start"
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "elapsed_s=$elapsed"
  echo "log_dir=$LOG_DIR"
} >"$meta"
python3 bench/algos_report.py --manifest "$manifest" --meta "$meta" --log-dir "$LOG_DIR" \
  --sim "$sim" --algos "${ALGOS[*]}" --json "$OUT" || { note "the report failed"; exit 1; }
note "wrote $OUT (raw logs: $LOG_DIR; ${elapsed}s of benchmarks)"
[[ $failures == 0 ]] || { note "$failures run(s) FAILED; their sizes show '-'"; exit 1; }
