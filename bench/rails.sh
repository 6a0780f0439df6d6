#!/usr/bin/env bash
# Multi-rail benchmark on real rails: two network namespaces joined by 4 veth rails shaped to
# 1 Gbit/s each (tests/net/netns_lib.sh). Needs root.
#
# 1. iperf3 on each rail alone, then on all rails at once (one stream per rail, one direction);
# 2. all_reduce_perf, one rank per namespace, 64 MiB, over 1, 2 and 4 rails: busbw and its share
#    of N x the single-rail iperf3 figure (np2 ring: each direction carries busbw); then np4 with
#    two ranks per namespace (shared memory inside a host, rails across);
# 3. rail 3 throttled to 100 Mbit/s: busbw against the remaining capacity (3 x 1G + 100M);
# 4. rail 1 taken down for 1 s in the middle of a fixed run: results checked, extra wall time.
#
#   bench/rails.sh [BIN_DIR]     (default build/bin)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/bin}"
# shellcheck source=../tests/net/netns_lib.sh
source "$root/tests/net/netns_lib.sh"
rails_require_root
command -v iperf3 >/dev/null || { echo "bench/rails.sh needs iperf3" >&2; exit 1; }
N=4
SIZE=64M
rails_setup $N
work=$(mktemp -d)
port=$(rails_port)

gbit() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9)" "$1"; }

iperf_rails() {  # iperf_rails K...: one client per listed rail at once; prints the sum in Gbit/s
  local k pids=() total=0 v
  for k in "$@"; do
    ip netns exec "$RAILS_NS_B" iperf3 -s -1 -p $((5201 + k)) -B "10.77.$k.2" >/dev/null 2>&1 &
  done
  sleep 0.5
  for k in "$@"; do
    ip netns exec "$RAILS_NS_A" iperf3 -c "10.77.$k.2" -B "10.77.$k.1" -p $((5201 + k)) -t 3 -J \
      >"$work/iperf$k.json" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for k in "$@"; do
    v=$(gbit "$work/iperf$k.json")
    total=$(python3 -c "print($total + $v)")
  done
  wait
  echo "$total"
}

allreduce() {  # allreduce N_RAILS ARGS...: prints busbw in GB/s; results checked. $NP ranks (2),
  local n=$1 np=${NP:-2} r ns rails pids=() ok=1  # half in each namespace
  shift
  rails=$(rails_list "$n")
  for ((r = 0; r < np; r++)); do
    ns=$RAILS_NS_A
    ((r >= np / 2)) && ns=$RAILS_NS_B
    LOCAL_RANK=$((r % (np / 2))) rails_rank "$ns" "$r" "$np" "$port" "$rails" \
      "$bin/all_reduce_perf" "$@" >"$work/r$r.log" 2>&1 &
    pids+=($!)
  done
  for r in "${pids[@]}"; do wait "$r" || ok=0; done
  [ $ok = 1 ] || { echo "all_reduce_perf failed:" >&2; cat "$work"/r?.log >&2; exit 1; }
  grep -q "Out of bounds values : 0 OK" "$work/r0.log" || { cat "$work/r0.log" >&2; exit 1; }
  awk '/Avg bus bandwidth/ {print $NF}' "$work/r0.log"
}

pct() { python3 -c "print(f'{100 * ($1) / ($2):.0f}%')"; }

echo "# railcc multi-rail benchmark: $N rails x $RAILS_RATE (veth + tc tbf), $(date -u +%FT%TZ)"
declare -a single
for ((k = 0; k < N; k++)); do single[k]=$(iperf_rails $k); done
one=$(python3 -c "print(sum([${single[*]/%/,}]) / $N)")
all=$(iperf_rails $(seq 0 $((N - 1))))
printf '%-44s %10s\n' "iperf3" "Gbit/s"
for ((k = 0; k < N; k++)); do printf '%-44s %10.3f\n' "  rail$k alone" "${single[k]}"; done
printf '%-44s %10.3f  (%s of %d x single)\n' "  all $N rails at once" "$all" "$(pct "$all" "$N * $one")" $N
echo
printf '%-44s %10s %10s %12s\n' "all_reduce_perf np2, $SIZE, float sum" "busbw GB/s" "Gbit/s" "% N x iperf3"
declare -A bw
for n in 1 2 4; do
  bw[$n]=$(allreduce $n -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
  g=$(python3 -c "print(${bw[$n]} * 8)")
  printf '%-44s %10.3f %10.3f %12s\n' "  $n rail(s)" "${bw[$n]}" "$g" "$(pct "$g" "$n * $one")"
done
t=$(NP=4 allreduce 4 -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
printf '%-44s %10.3f %10.3f %12s\n' "  np4 (2 ranks/host, shm inside), 4 rails" "$t" \
  "$(python3 -c "print($t * 8)")" "(busbw, n/a)"
printf '%-44s %10s\n' "  scaling 1 -> 2 rails" "$(python3 -c "print(f'{${bw[2]} / ${bw[1]}:.2f}x')")"
printf '%-44s %10s\n' "  scaling 1 -> 4 rails" "$(python3 -c "print(f'{${bw[4]} / ${bw[1]}:.2f}x')")"

echo
rails_shape 3 100mbit
t=$(allreduce 4 -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
cap=$(python3 -c "print(3 * $one + 0.1 * $one)")
printf '%-44s %10.3f %10.3f %12s\n' "  4 rails, rail3 at 100 Mbit/s" "$t" \
  "$(python3 -c "print($t * 8)")" "$(pct "$t * 8" "$cap")"
rails_shape 3 "$RAILS_RATE"

echo
start=$(date +%s.%N)
allreduce 4 -b $SIZE -e $SIZE -n 20 -w 0 -c 1 >/dev/null
base=$(python3 -c "print($(date +%s.%N) - $start)")
start=$(date +%s.%N)
allreduce 4 -b $SIZE -e $SIZE -n 20 -w 0 -c 1 >/dev/null &
ar=$!
sleep 1
ip -n "$RAILS_NS_A" link set rail1 down
sleep 1
ip -n "$RAILS_NS_A" link set rail1 up
wait $ar
down=$(python3 -c "print($(date +%s.%N) - $start)")
printf '%-44s %7.2f s vs %.2f s: %+.2f s (results verified)\n' \
  "  20 x $SIZE, rail1 down for 1 s mid-run" "$down" "$base" "$(python3 -c "print($down - $base)")"
grep -h "out of service\|back in service" "$work"/r?.log | sed 's/^/  /' | head -n 4
rm -rf "$work"
