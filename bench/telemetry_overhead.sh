#!/usr/bin/env bash
# What railcc's always-on telemetry costs: all_reduce at 8 B and 64 MiB with everything that is on
# by default (counters and histograms, RAILCC_TELEMETRY=1; the flight recorder,
# RAILCC_FLIGHT_RECORDER=256) and with both off, interleaved in one run (REPEAT rounds, best time
# of each), on NP ranks of this host.
#   bench/telemetry_overhead.sh [NP]      (default 2; needs build/ from scripts/test.sh)
# Each rank is pinned to CPU (local rank mod the CPU count) with taskset, so the two settings do
# not also differ in where the scheduler happened to put the ranks; PIN=0 leaves them free.
set -euo pipefail
cd "$(dirname "$0")/.."
np=${1:-2}
repeat=${REPEAT:-5}
pin=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null; then
  # shellcheck disable=SC2016  # expanded by the rank's shell
  pin=(sh -c 'exec taskset -c $((RAILCC_LOCAL_RANK % $(nproc))) "$0" "$@"')
fi
run() {  # $1 telemetry 1/0, $2 size, $3 iterations -> time per call (us), out of place
  RAILCC_TELEMETRY=$1 RAILCC_FLIGHT_RECORDER=$(($1 * 256)) build/bin/railcc-run -n "$np" \
    --no-prefix "${pin[@]}" build/bin/all_reduce_perf -b "$2" -e "$2" -c 0 -n "$3" -w 5 |
    awk '/^ +[0-9]/ {print $6}'
}
best() { sort -g | head -1; }
for size in 8 64M; do
  iters=$([ "$size" = 8 ] && echo 5000 || echo 10)
  on=(); off=()
  for _ in $(seq "$repeat"); do
    on+=("$(run 1 "$size" "$iters")")
    off+=("$(run 0 "$size" "$iters")")
  done
  t_on=$(printf '%s\n' "${on[@]}" | best)
  t_off=$(printf '%s\n' "${off[@]}" | best)
  awk -v s="$size" -v a="$t_on" -v b="$t_off" -v np="$np" 'BEGIN {
    printf "all_reduce %-4s np%d: telemetry on %.2f us, off %.2f us, overhead %+.1f%%\n",
      s, np, a, b, (a / b - 1) * 100 }'
  # Every round, so a reader can see the spread a shared machine adds.
  echo "  rounds on (us): ${on[*]}"
  echo "  rounds off (us): ${off[*]}"
done
