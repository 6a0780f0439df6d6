#!/usr/bin/env bash
# bench/compare.sh [NP...]: railcc's all_reduce side by side with Open MPI and Gloo, one host.
#
# Builds what is missing (the peers also when stale) and runs, in one invocation, for every NP
# (default: 2 4):
#   railcc  build/bin/railcc-run -n NP --no-prefix build/bin/all_reduce_perf -b .. -e .. -f 2 -c 0
#   MPI     mpirun -np NP (Open MPI, pml ob1, btl self,vader: shared memory only) running
#           build/peers/mpi_allreduce_perf (bench/peers/mpi_allreduce_perf.cc, MPI_Allreduce)
#   Gloo    NP processes of build/peers/gloo_allreduce_perf (bench/peers/gloo_allreduce_perf.cc,
#           gloo::allreduce, ring, TCP transport on the loopback interface, FileStore rendezvous)
# plus build/peers/memcpy_probe (single-thread memcpy of 64 MiB buffers, best of 10).
# railcc itself is built only when build/bin/all_reduce_perf or railcc-run is missing (cmake,
# Release, -j2); after changing railcc, rebuild it first (the JSON records the binary's mtime).
# All four print / use nccl-tests' table: float32 sum, busbw = algbw * 2(n-1)/n, 1 GB = 1e9 B.
#
# It prints one table per NP (size, busbw of each, railcc/MPI and railcc/Gloo busbw ratios), the
# 8 B latency of each, and writes bench/results/<date>.json (every row of every library, the
# machine, the configuration). Raw outputs go to $LOG_DIR (default build/peers/logs/<stamp>/).
#
# Sizes double from MIN_BYTES to MAX_BYTES. Each library is run over three size bands with their
# own iteration counts (calls timed per size; the same for every library), band by band and
# library after library, so slow drifts of the machine's load hit all three alike:
#   size <= 64 KiB: ITERS_SMALL;  <= 4 MiB: ITERS_MID;  larger: ITERS_LARGE.
# With REPEAT=R > 1 the whole sequence runs R times and each size keeps each library's best time.
#
# Environment (defaults in brackets):
#   MIN_BYTES [8]  MAX_BYTES [256M]   sizes, K/M/G suffixes (powers of 1024); MAX_BYTES=64M is a
#                                     quick run
#   ITERS_SMALL [500] ITERS_MID [100] ITERS_LARGE [20]   timed calls per size
#   WARMUP [2]       warm-up calls per size before each band's first row (every library)
#   REPEAT [2]       see above (best of REPEAT interleaved passes, against other load)
#   CHECK [0]        -c for every benchmark (1: also verify every result exactly; untimed)
#   REGISTER [0]     1: railcc's buffers come from railcc::mem_alloc and are registered as windows
#                    (all_reduce_perf -R 1, like nccl-tests' local registration): ranks reduce
#                    from each other's buffers in place. The peers' buffers are plain either way.
#   PEER_INPLACE [0] 1: peers also measure in place (railcc always does; the tables only use
#                    out-of-place figures)
#   PEERS ["mpi gloo"]  which peers to run (a subset is fine; the table shows "-" for the rest)
#   GLOO_ALGO [ring] ring|bcube (gloo::allreduce), hd|ringchunked|oldring (legacy classes)
#   BUILD_DIR [build]  RESULTS_DIR [bench/results]  OUT [RESULTS_DIR/<date>.json; when that
#                    exists, <date>-<HHMMSS>.json unless OUT_FORCE=1]
#   LOG_DIR [BUILD_DIR/peers/logs/<stamp>]  RUN_TIMEOUT [900] seconds per benchmark run
#   NO_INSTALL [0]   1: never apt-get install missing Debian packages (otherwise, as root, the
#                    script installs openmpi-bin libopenmpi-dev libgloo-dev g++ cmake python3)
#   CXX [g++]  MPICXX [mpicxx]  CXXFLAGS [-O3] (peers; railcc's Release build is -O3 too)
#
# Exit status: 0, or 1 when a build or a benchmark run failed (the tables still show the rest),
# or 2 for bad arguments.
set -euo pipefail

die() { echo "compare.sh: error: $*" >&2; exit 1; }
note() { echo "compare.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

NPS=("$@")
[[ ${#NPS[@]} -gt 0 ]] || NPS=(2 4)
for np in "${NPS[@]}"; do
  [[ $np =~ ^[0-9]+$ && $np -ge 2 ]] || { echo "usage: $0 [NP...]  (each NP an integer >= 2; default: 2 4)" >&2; exit 2; }
done

BUILD_DIR=${BUILD_DIR:-build}
PEER_BIN=$BUILD_DIR/peers
MIN_BYTES=${MIN_BYTES:-8}
MAX_BYTES=${MAX_BYTES:-256M}
ITERS_SMALL=${ITERS_SMALL:-500}
ITERS_MID=${ITERS_MID:-100}
ITERS_LARGE=${ITERS_LARGE:-20}
WARMUP=${WARMUP:-2}
REPEAT=${REPEAT:-2}
CHECK=${CHECK:-0}
PEER_INPLACE=${PEER_INPLACE:-0}
REGISTER=${REGISTER:-0}
PEERS=${PEERS:-mpi gloo}
GLOO_ALGO=${GLOO_ALGO:-ring}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
NO_INSTALL=${NO_INSTALL:-0}
CXX=${CXX:-g++}
MPICXX=${MPICXX:-mpicxx}
CXXFLAGS=${CXXFLAGS:--O3}
STAMP=$(date +%Y-%m-%d-%H%M%S)
LOG_DIR=${LOG_DIR:-$BUILD_DIR/peers/logs/$STAMP}

for v in ITERS_SMALL ITERS_MID ITERS_LARGE REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || { echo "compare.sh: $v must be a positive integer" >&2; exit 2; }
done
[[ $WARMUP =~ ^[0-9]+$ && $CHECK =~ ^[0-9]+$ && $PEER_INPLACE =~ ^[01]$ && $REGISTER =~ ^[012]$ ]] ||
  { echo "compare.sh: WARMUP and CHECK must be integers >= 0, PEER_INPLACE 0 or 1, REGISTER 0, 1 or 2" >&2; exit 2; }
RUN_MPI=0 RUN_GLOO=0
for p in $PEERS; do
  case $p in
    mpi) RUN_MPI=1 ;;
    gloo) RUN_GLOO=1 ;;
    *) echo "compare.sh: unknown peer '$p' in PEERS (expected mpi and/or gloo)" >&2; exit 2 ;;
  esac
done

# "256M" -> 268435456 (powers of 1024, like the benchmarks' flags).
to_bytes() {
  local s=$1 n mult=1
  [[ $s =~ ^([0-9]+)([KkMmGg]?)[Bb]?$ ]] || { echo "compare.sh: '$s' is not a size (e.g. 8, 512K, 64M, 1G)" >&2; exit 2; }
  n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
    K|k) mult=1024 ;; M|m) mult=$((1024 * 1024)) ;; G|g) mult=$((1024 * 1024 * 1024)) ;;
  esac
  echo $((n * mult))
}
MINB=$(to_bytes "$MIN_BYTES")
MAXB=$(to_bytes "$MAX_BYTES")
[[ $MINB -ge 4 && $MINB -le $MAXB ]] ||
  { echo "compare.sh: need 4 <= MIN_BYTES ($MINB) <= MAX_BYTES ($MAXB)" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Prerequisites: Debian packages (installed when missing and we are root), then the binaries.
need_pkgs=()
command -v "$CXX" >/dev/null || need_pkgs+=(g++)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [[ ! -x $BUILD_DIR/bin/all_reduce_perf || ! -x $BUILD_DIR/bin/railcc-run ]]; then
  command -v cmake >/dev/null || need_pkgs+=(cmake)
fi
if [[ $RUN_MPI == 1 ]]; then
  command -v mpirun >/dev/null || need_pkgs+=(openmpi-bin)
  command -v "$MPICXX" >/dev/null || need_pkgs+=(libopenmpi-dev)
fi
if [[ $RUN_GLOO == 1 ]]; then
  [[ -f /usr/include/gloo/allreduce.h ]] || need_pkgs+=(libgloo-dev)
fi
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
  if [[ $NO_INSTALL != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    note "installing missing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need_pkgs[@]}" >&2; then
      if ! { apt-get update >&2 && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >&2; }; then
        die "apt-get install ${need_pkgs[*]} failed; install them, or leave a peer out with PEERS=..."
      fi
    fi
  else
    die "missing: ${need_pkgs[*]} (Debian packages). Install them (apt-get install -y ${need_pkgs[*]}),
  run this script as root to let it install them, or leave a peer out (PEERS=\"mpi\" or PEERS=\"gloo\")."
  fi
fi
command -v python3 >/dev/null || die "python3 is needed for the report"

if [[ ! -x $BUILD_DIR/bin/all_reduce_perf || ! -x $BUILD_DIR/bin/railcc-run ]]; then
  note "building railcc's all_reduce_perf and railcc-run in $BUILD_DIR (Release, -j2)"
  if ! { cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2 &&
    cmake --build "$BUILD_DIR" -j2 --target all_reduce_perf railcc-run >&2; }; then
    die "building railcc failed (see above)"
  fi
fi
[[ -x $BUILD_DIR/bin/all_reduce_perf && -x $BUILD_DIR/bin/railcc-run ]] ||
  die "$BUILD_DIR/bin/all_reduce_perf or railcc-run is missing after the build"

mkdir -p "$PEER_BIN" "$LOG_DIR" "$RESULTS_DIR"
# build_peer OUT COMPILER SRC [LIBS...]: compile when OUT is missing or older than its sources.
build_peer() {
  local out=$1 cc=$2 src=$3
  shift 3
  if [[ ! -x $out || $src -nt $out || bench/peers/peer_perf_common.h -nt $out ]]; then
    note "compiling $out"
    local flags
    read -ra flags <<<"$CXXFLAGS"
    "$cc" "${flags[@]}" -std=c++17 -Wall -Wextra -pthread -o "$out" "$src" "$@" >&2 ||
      die "compiling $src failed"
  fi
}
build_peer "$PEER_BIN/memcpy_probe" "$CXX" bench/peers/memcpy_probe.cc
[[ $RUN_MPI == 0 ]] || build_peer "$PEER_BIN/mpi_allreduce_perf" "$MPICXX" bench/peers/mpi_allreduce_perf.cc
[[ $RUN_GLOO == 0 ]] || build_peer "$PEER_BIN/gloo_allreduce_perf" "$CXX" bench/peers/gloo_allreduce_perf.cc -lgloo

# ---------------------------------------------------------------------------------------------
# Launchers. Each writes rank 0's table to $log (stderr of every rank too) and returns the
# benchmark's exit status (124 on timeout).

# Open MPI: shared memory only. pml ob1 + btl self,vader (vader = Open MPI 4.1's shared-memory
# BTL; single-copy through CMA). UCX/OFI components are excluded so nothing probes a network;
# the runtime's out-of-band channel stays on loopback. --bind-to none: railcc-run and the Gloo
# launcher do not pin either (with 4 ranks on 2 cores, Open MPI's oversubscription mode also
# makes its progress loop yield).
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_mtl='^ofi' OMPI_MCA_osc='^ucx'
export OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_rmaps_base_oversubscribe=1

run_railcc() {  # np minb maxb iters log
  timeout -k 10 "$RUN_TIMEOUT" "$BUILD_DIR/bin/railcc-run" -n "$1" --no-prefix \
    "$BUILD_DIR/bin/all_reduce_perf" -b "$2" -e "$3" -f 2 -c "$CHECK" -n "$4" -w "$WARMUP" \
    -R "$REGISTER" >"$5" 2>&1
}
run_mpi() {
  timeout -k 10 "$RUN_TIMEOUT" mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$1" \
    --mca pml ob1 --mca btl self,vader \
    "$PEER_BIN/mpi_allreduce_perf" -b "$2" -e "$3" -f 2 -c "$CHECK" -n "$4" -w "$WARMUP" \
    -I "$PEER_INPLACE" >"$5" 2>&1
}
run_gloo() {
  local np=$1 store r rc=0 pids=()
  store=$(mktemp -d "${TMPDIR:-/tmp}/railcc-gloo.XXXXXX")
  for ((r = 0; r < np; r++)); do
    local out=/dev/null
    [[ $r == 0 ]] && out=$5
    GLOO_RANK=$r GLOO_SIZE=$np GLOO_STORE_DIR=$store GLOO_IFACE=lo \
      timeout -k 10 "$RUN_TIMEOUT" "$PEER_BIN/gloo_allreduce_perf" -b "$2" -e "$3" -f 2 \
      -c "$CHECK" -n "$4" -w "$WARMUP" -I "$PEER_INPLACE" -A "$GLOO_ALGO" >"$out" 2>>"$5.err" &
    pids+=($!)
  done
  # Wait for all; if one fails, stop the others (they would wait for it until the timeout).
  local done_=() alive i st
  while :; do
    alive=0
    for i in "${!pids[@]}"; do
      [[ -z ${done_[$i]:-} ]] || continue
      if kill -0 "${pids[$i]}" 2>/dev/null; then
        alive=1
        continue
      fi
      st=0
      wait "${pids[$i]}" || st=$?
      done_[i]=1
      if [[ $st != 0 && $rc == 0 ]]; then
        rc=$st
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
      fi
    done
    [[ $alive == 1 ]] || break
    sleep 0.2
  done
  [[ -s $5.err ]] && cat "$5.err" >>"$5"
  rm -f "$5.err"
  rm -rf "$store"
  return $rc
}

# ---------------------------------------------------------------------------------------------
# Sizes and bands.
sizes=()
for ((s = MINB; s <= MAXB; s *= 2)); do sizes+=("$s"); done
bands=()  # "first last iters"
band() {  # lo hi iters: the sizes in (lo, hi]
  local first="" last="" s
  for s in "${sizes[@]}"; do
    if [[ $s -gt $1 && $s -le $2 ]]; then
      [[ -n $first ]] || first=$s
      last=$s
    fi
  done
  [[ -z $first ]] || bands+=("$first $last $3")
}
band 0 65536 "$ITERS_SMALL"
band 65536 4194304 "$ITERS_MID"
band 4194304 $((1 << 62)) "$ITERS_LARGE"

# ---------------------------------------------------------------------------------------------
manifest=$LOG_DIR/manifest.tsv
: >"$manifest"
failures=0
libs=(railcc)
[[ $RUN_MPI == 0 ]] || libs+=(mpi)
[[ $RUN_GLOO == 0 ]] || libs+=(gloo)

loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
note "logs in $LOG_DIR; sizes $MINB..$MAXB B; bands (first last iters): $(printf '[%s] ' "${bands[@]}")"
note "load average at start: $loadavg_start"

"$PEER_BIN/memcpy_probe" 64 10 >"$LOG_DIR/memcpy.txt" 2>&1 || die "memcpy_probe failed: $(cat "$LOG_DIR/memcpy.txt")"
note "$(grep '^memcpy_GBps' "$LOG_DIR/memcpy.txt") (single thread, 64 MiB)"

# CPU time of the whole machine (all processes), to tell afterwards how much of it went to
# processes other than these benchmarks (other users' builds make the figures noisy).
busy_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit}' /proc/stat
}
children_cpu_s() {  # user + system time of this shell's finished children (and theirs)
  times >"$LOG_DIR/times.txt"  # in this shell: in $(...) it would see a subshell's children
  tail -n 1 "$LOG_DIR/times.txt" |
    awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }'
}
busy_start=$(busy_cpu_s)
children_cpu_s >"$LOG_DIR/children_start.txt"
children_start=$(cat "$LOG_DIR/children_start.txt")
t_start=$(date +%s)
for ((rep = 1; rep <= REPEAT; rep++)); do
  for np in "${NPS[@]}"; do
    for b in "${bands[@]}"; do
      read -r first last iters <<<"$b"
      for lib in "${libs[@]}"; do
        log=$LOG_DIR/np${np}_${lib}_r${rep}_${first}-${last}.txt
        t0=$(date +%s)
        st=0
        "run_$lib" "$np" "$first" "$last" "$iters" "$log" || st=$?
        note "np $np $lib ${first}..${last} B x$iters: $(( $(date +%s) - t0 ))s$([[ $st == 0 ]] || echo ", FAILED (status $st), see $log")"
        if [[ $st != 0 ]]; then
          failures=$((failures + 1))
          tail -n 5 "$log" | sed 's/^/    /' >&2 || true
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$np" "$lib" "$rep" "$st" "$log" >>"$manifest"
      done
    done
  done
done
elapsed=$(( $(date +%s) - t_start ))
children_cpu_s >"$LOG_DIR/children_end.txt"
other_cpu_s=$(awk -v b0="$busy_start" -v b1="$(busy_cpu_s)" -v c0="$children_start" -v c1="$(cat "$LOG_DIR/children_end.txt")" \
  'BEGIN { o = (b1 - b0) - (c1 - c0); if (o < 0) o = 0; printf "%.0f", o }')
note "CPU time used by other processes during the benchmarks: ${other_cpu_s}s of $((elapsed * $(nproc)))s"
loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Machine and versions, then the report.
OUT=${OUT:-$RESULTS_DIR/$(date +%Y-%m-%d).json}
if [[ -e $OUT && -z ${OUT_FORCE:-} ]]; then OUT=${OUT%.json}-$(date +%H%M%S).json; fi
meta=$LOG_DIR/meta.env
{
  echo "date=$(date -Iseconds)"
  echo "command=bench/compare.sh ${NPS[*]}"
  echo "env=MIN_BYTES=$MIN_BYTES MAX_BYTES=$MAX_BYTES ITERS_SMALL=$ITERS_SMALL ITERS_MID=$ITERS_MID ITERS_LARGE=$ITERS_LARGE WARMUP=$WARMUP REPEAT=$REPEAT CHECK=$CHECK REGISTER=$REGISTER PEER_INPLACE=$PEER_INPLACE GLOO_ALGO=$GLOO_ALGO"
  echo "cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
  echo "cpus=$(nproc)"
  echo "mem_total_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  # shellcheck disable=SC1091
  echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "railcc_buffers=$([[ $REGISTER == 0 ]] && echo plain || echo "windows (mem_alloc + register_window, -R $REGISTER)")"
  echo "hypervisor=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n1)"
  echo "railcc_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+dirty')"
  echo "railcc_binary_mtime=$(date -u -r "$BUILD_DIR/bin/all_reduce_perf" +%Y-%m-%dT%H:%M:%SZ)"
  echo "openmpi=$( [[ $RUN_MPI == 1 ]] && mpirun --version 2>/dev/null | head -n1 || echo -)"
  echo "gloo=$( [[ $RUN_GLOO == 1 ]] && dpkg-query -W -f='libgloo-dev ${Version}' libgloo-dev 2>/dev/null || echo -)"
  echo "compiler=$($CXX --version | head -n1)"
  echo "loadavg_start=$loadavg_start"
  echo "loadavg_end=$loadavg_end"
  echo "elapsed_s=$elapsed"
  echo "other_cpu_s=$other_cpu_s"
  echo "bands=$(printf '%s;' "${bands[@]}")"
  echo "log_dir=$LOG_DIR"
} >"$meta"

python3 bench/peers/compare_report.py --manifest "$manifest" --meta "$meta" \
  --memcpy "$LOG_DIR/memcpy.txt" --json "$OUT" --markdown "$LOG_DIR/report.md" ||
  die "the report failed"
note "wrote $OUT (raw logs and a Markdown copy of the tables: $LOG_DIR; ${elapsed}s of benchmarks)"
if [[ $failures -gt 0 ]]; then
  note "$failures benchmark run(s) failed; their sizes show '-' above"
  exit 1
fi
