#!/usr/bin/env bash
# Multi-rail benchmark on real rails: two network namespaces joined by 4 veth rails shaped to
# 1 Gbit/s each (tests/net/netns_lib.sh). Needs root.
#
# 1. iperf3 on each rail alone, then on all rails at once (one stream per rail, one direction);
# 2. all_reduce_perf, one rank per namespace, 64 MiB, over 1, 2 and 4 rails: busbw and its share
#    of N x the single-rail iperf3 figure (np2 ring: each direction carries busbw), first over
#    railcc's tcp transport, then over its ucx transport (RAILCC_TRANSPORT=ucx UCX_TLS=tcp, one
#    UCX worker per rail); then np4 with two ranks per namespace (shared memory inside a host,
#    rails across);
# 3. UCX's own multi-rail striping for comparison: ucx_perftest tag_bw, 64 MiB messages from A to
#    B, one UCX worker over all 4 rails (UCX_NET_DEVICES=rail0,..,rail3 UCX_TLS=tcp
#    UCX_MAX_RNDV_RAILS=4), with the bytes each rail carried (B's rx counters). UCX 1.13 over tcp
#    does not always use every rail: in some sets of namespaces it moves all the data over 2 of
#    the 4 (it opens no connection on the others), so such an attempt is reported and retried on
#    re-created rails, up to 4 attempts;
# 4. rail 3 throttled to 100 Mbit/s: busbw against the remaining capacity (3 x 1G + 100M);
# 5. rail 1 taken down for 1 s in the middle of a fixed run: results checked, extra wall time;
# 6. the targets of the multi-rail work, each met or missed with its figure.
#
# The ucx rows are skipped, with a line saying why, when railcc was built without UCX or
# ucx_perftest (Debian ucx-utils) is missing. Results also go to JSON: $OUT, default
# bench/results/rails-<date>.json (rails-<date>-<HHMMSS>.json when that exists); OUT=- for none.
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
SIZE_BYTES=$((64 << 20))
rails_setup $N
work=$(mktemp -d)
ucx_server=""
cleanup() {
  if [ -n "$ucx_server" ]; then kill "$ucx_server" 2>/dev/null || true; fi
  rails_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
port=$(rails_port)
ucx_port=$((port + 1))
: >"$work/results"

# record KEY VALUE: one figure for the JSON file.
record() { echo "$1=$2" >>"$work/results"; }

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

# allreduce N_RAILS ARGS...: prints busbw in GB/s; results checked. $NP ranks (default 2), half in
# each namespace. Fails (status 1) when a rank fails or the results are wrong, with the ranks' logs
# on stderr unless QUIET=1 (they stay in $work/r*.log).
allreduce() {
  local n=$1 np=${NP:-2} r ns rails pids=() ok=1
  shift
  rails=$(rails_list "$n")
  rm -f "$work"/r?.log
  for ((r = 0; r < np; r++)); do
    ns=$RAILS_NS_A
    ((r >= np / 2)) && ns=$RAILS_NS_B
    LOCAL_RANK=$((r % (np / 2))) rails_rank "$ns" "$r" "$np" "$port" "$rails" \
      "$bin/all_reduce_perf" "$@" >"$work/r$r.log" 2>&1 &
    pids+=($!)
  done
  for r in "${pids[@]}"; do wait "$r" || ok=0; done
  if [ $ok = 1 ] && ! grep -q "Out of bounds values : 0 OK" "$work/r0.log"; then ok=0; fi
  if [ $ok = 0 ]; then
    if [ "${QUIET:-0}" != 1 ]; then
      echo "all_reduce_perf failed:" >&2
      cat "$work"/r?.log >&2
    fi
    return 1
  fi
  awk '/Avg bus bandwidth/ {print $NF}' "$work/r0.log"
}

# first_error: the first error line of the last allreduce's ranks.
first_error() {
  {
    grep -h "railcc error" "$work"/r?.log
    grep -h -i "error\|FAILED\|Out of bounds" "$work"/r?.log
  } | head -n 1 | sed 's/^[[:space:]]*//' || true
}

# rail_rx N: bytes each of rails 0..N-1 has received in host B so far.
rail_rx() {
  local k counts=()
  for ((k = 0; k < $1; k++)); do
    counts+=("$(ip netns exec "$RAILS_NS_B" cat "/sys/class/net/rail$k/statistics/rx_bytes")")
  done
  echo "${counts[*]}"
}

# ucx_perftest_bw N: UCX's own striping, tag_bw of $SIZE messages from A to B, one UCX worker over
# rails 0..N-1. Sets ucx_res to (GB/s, bytes0, bytes1, ...): the bytes each rail carried into B.
# Fails if ucx_perftest does. Not run in a subshell, so that the EXIT trap knows the server.
ucx_perftest_bw() {
  local n=$1 devs before after i rc=0 t
  ucx_res=()
  devs=$(rails_list "$n")
  read -ra before <<<"$(rail_rx "$n")"
  ip netns exec "$RAILS_NS_B" env UCX_TLS=tcp UCX_NET_DEVICES="$devs" UCX_MAX_RNDV_RAILS="$n" \
    ucx_perftest -p "$ucx_port" >"$work/ucx-server.log" 2>&1 &
  ucx_server=$!
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$RAILS_NS_B" ss -ltnH "sport = :$ucx_port" | grep -q . && break
    sleep 0.1
  done
  ip netns exec "$RAILS_NS_A" env UCX_TLS=tcp UCX_NET_DEVICES="$devs" UCX_MAX_RNDV_RAILS="$n" \
    timeout 120 ucx_perftest 10.76.0.2 -p "$ucx_port" -t tag_bw -s "$SIZE_BYTES" -n 20 -w 2 -f \
    >"$work/ucx-client.log" 2>&1 || rc=$?
  if [ $rc != 0 ]; then kill "$ucx_server" 2>/dev/null || true; fi
  wait "$ucx_server" || rc=1
  ucx_server=""
  [ $rc = 0 ] || return 1
  read -ra after <<<"$(rail_rx "$n")"
  # -f prints one line: iterations, overhead (us) median/average/overall, bandwidth, rate.
  t=$(awk 'NF == 8 && $1 ~ /^[0-9]+$/ {t = $4} END {print t}' "$work/ucx-client.log")
  [ -n "$t" ] || return 1
  ucx_res=("$(python3 -c "print($SIZE_BYTES / $t / 1e3)")")
  for ((i = 0; i < n; i++)); do ucx_res+=($((after[i] - before[i]))); done
}

pct() { python3 -c "print(f'{100 * ($1) / ($2):.0f}%')"; }
row() { printf '%-44s %10.3f %10.3f %12s\n' "$1" "$2" "$(python3 -c "print($2 * 8)")" "$3"; }

echo "# railcc multi-rail benchmark: $N rails x $RAILS_RATE (veth + tc tbf), $(date -u +%FT%TZ)"
declare -a single
for ((k = 0; k < N; k++)); do single[k]=$(iperf_rails $k); done
one=$(python3 -c "print(sum([${single[*]/%/,}]) / $N)")
all=$(iperf_rails $(seq 0 $((N - 1))))
printf '%-44s %10s\n' "iperf3" "Gbit/s"
for ((k = 0; k < N; k++)); do
  printf '%-44s %10.3f\n' "  rail$k alone" "${single[k]}"
  record "iperf3.rail${k}_gbit" "${single[k]}"
done
printf '%-44s %10.3f  (%s of %d x single)\n' "  all $N rails at once" "$all" "$(pct "$all" "$N * $one")" $N
record iperf3.single_rail_mean_gbit "$one"
record iperf3.all_rails_gbit "$all"
echo
printf '%-44s %10s %10s %12s\n' "all_reduce_perf np2, $SIZE, float sum" "busbw GB/s" "Gbit/s" "% N x iperf3"
declare -A bw ubw
for n in 1 2 4; do
  bw[$n]=$(allreduce $n -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
  row "  tcp, $n rail(s)" "${bw[$n]}" "$(pct "${bw[$n]} * 8" "$n * $one")"
  record "allreduce_np2.tcp.rails$n.busbw_gbs" "${bw[$n]}"
done

# railcc over UCX (one UCX worker per rail, each on its rail's interface).
ucx_skip=""
for n in 1 2 4; do
  [ -z "$ucx_skip" ] || break
  read -ra rx0 <<<"$(rail_rx $N)"
  if ubw[$n]=$(RAILCC_TRANSPORT=ucx UCX_TLS=tcp RAILCC_TIMEOUT=60 QUIET=1 \
    allreduce $n -b $SIZE -e $SIZE -n 10 -w 2 -c 1); then
    read -ra rx1 <<<"$(rail_rx $N)"
    row "  ucx (UCX_TLS=tcp), $n rail(s)" "${ubw[$n]}" "$(pct "${ubw[$n]} * 8" "$n * $one")"
    record "allreduce_np2.ucx.rails$n.busbw_gbs" "${ubw[$n]}"
    if ((n > 1)); then
      mb=""
      for ((k = 0; k < n; k++)); do mb+="${mb:+ / }$(((rx1[k] - rx0[k]) / 1000000))"; done
      echo "    (bytes into B per rail, rail0..$((n - 1)): $mb MB)"
    fi
  else
    unset "ubw[$n]"
    err=$(first_error)
    if grep -q "built without UCX support" "$work"/r?.log; then
      ucx_skip="railcc was built without UCX"
      printf '%-44s %s\n' "  ucx (UCX_TLS=tcp)" "skipped: $ucx_skip"
    else
      printf '%-44s %s\n' "  ucx (UCX_TLS=tcp), $n rail(s)" "FAILED: ${err:-see logs}"
      record "allreduce_np2.ucx.rails$n.error" "${err:-failed}"
    fi
  fi
done
t=$(NP=4 allreduce 4 -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
row "  np4 (2 ranks/host, shm inside), tcp, 4 rails" "$t" "(busbw, n/a)"
record allreduce_np4.tcp.rails4.busbw_gbs "$t"
s2=$(python3 -c "print(${bw[2]} / ${bw[1]})")
s4=$(python3 -c "print(${bw[4]} / ${bw[1]})")
printf '%-44s %10s\n' "  scaling 1 -> 2 rails (tcp)" "$(printf '%.2fx' "$s2")"
printf '%-44s %10s\n' "  scaling 1 -> 4 rails (tcp)" "$(printf '%.2fx' "$s4")"
record allreduce_np2.tcp.scaling_1_2 "$s2"
record allreduce_np2.tcp.scaling_1_4 "$s4"
if [ -n "${ubw[1]:-}" ] && [ -n "${ubw[2]:-}" ]; then
  printf '%-44s %10s\n' "  scaling 1 -> 2 rails (ucx)" "$(python3 -c "print(f'{${ubw[2]} / ${ubw[1]}:.2f}x')")"
fi
if [ -n "${ubw[1]:-}" ] && [ -n "${ubw[4]:-}" ]; then
  printf '%-44s %10s\n' "  scaling 1 -> 4 rails (ucx)" "$(python3 -c "print(f'{${ubw[4]} / ${ubw[1]}:.2f}x')")"
fi

echo
printf '%-44s %10s %10s %12s\n' "UCX's own striping: ucx_perftest tag_bw $SIZE" "GB/s" "Gbit/s" "% N x iperf3"
ucx_bw=""
ucx_res=()
if ! command -v ucx_perftest >/dev/null; then
  printf '%-44s %s\n' "  $N rails" "skipped: ucx_perftest not found (Debian package ucx-utils)"
else
  for ((attempt = 1; attempt <= 4; attempt++)); do
    if ! ucx_perftest_bw $N; then
      printf '%-44s %s\n' "  $N rails" \
        "FAILED: $(grep -h -m 1 -i "error\|fail" "$work"/ucx-*.log | head -n 1)"
      record ucx_perftest.rails4.error failed
      break
    fi
    total=0 used=0 shares="" mb=""
    for ((k = 0; k < N; k++)); do total=$((total + ucx_res[k + 1])); done
    for ((k = 0; k < N; k++)); do
      # A rail left out of the striping carries only acks (a few kB).
      if ((ucx_res[k + 1] * N * 2 > total)); then used=$((used + 1)); fi
      shares+="${shares:+ }$(pct "${ucx_res[k + 1]}" "$total")"
      mb+="${mb:+ / }$((ucx_res[k + 1] / 1000000))"
    done
    if [ "$used" = $N ] || [ $attempt = 4 ]; then break; fi
    echo "  (attempt $attempt: UCX striped over $used of $N rails only, bytes rail0..$((N - 1)): $shares;" \
      "$(printf '%.3f' "${ucx_res[0]}") GB/s; retrying on re-created rails)"
    record "ucx_perftest.rails4.attempt$attempt.gbs" "${ucx_res[0]}"
    record "ucx_perftest.rails4.attempt$attempt.rails_used" "$used"
    # Which rails UCX pairs its lanes with changes from one set of namespaces to the next.
    rails_cleanup
    rails_setup $N
    trap cleanup EXIT
    sleep 1
  done
  if [ ${#ucx_res[@]} -gt 0 ]; then
    ucx_bw=${ucx_res[0]}
    row "  $N rails, UCX_MAX_RNDV_RAILS=$N" "$ucx_bw" "$(pct "$ucx_bw * 8" "$N * $one")"
    echo "  bytes into B per rail (rx counters), rail0..$((N - 1)): $mb MB ($shares)"
    if [ "$used" = $N ]; then
      echo "  UCX striped over all $N rails (attempt $attempt)"
    else
      echo "  UCX did NOT stripe over all $N rails: $used of $N carried data in every attempt"
    fi
    record ucx_perftest.rails4.gbs "$ucx_bw"
    record ucx_perftest.rails4.rails_used "$used"
    record ucx_perftest.rails4.attempts "$attempt"
    for ((k = 0; k < N; k++)); do record "ucx_perftest.rails4.rail${k}_rx_bytes" "${ucx_res[k + 1]}"; done
    printf '%-44s %10s\n' "  railcc tcp 4 rails / UCX 4-rail striping" \
      "$(python3 -c "print(f'{${bw[4]} / $ucx_bw:.2f}x')")"
    if [ -n "${ubw[4]:-}" ]; then
      printf '%-44s %10s\n' "  railcc ucx 4 rails / UCX 4-rail striping" \
        "$(python3 -c "print(f'{${ubw[4]} / $ucx_bw:.2f}x')")"
    fi
  fi
fi

echo
rails_shape 3 100mbit
throttled=$(allreduce 4 -b $SIZE -e $SIZE -n 10 -w 2 -c 1)
cap=$(python3 -c "print(3 * $one + 0.1 * $one)")
row "  4 rails, rail3 at 100 Mbit/s" "$throttled" "$(pct "$throttled * 8" "$cap")"
rails_shape 3 "$RAILS_RATE"
record throttle.busbw_gbs "$throttled"
record throttle.capacity_gbit "$cap"

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
down_ok=1
wait $ar || down_ok=0
down=$(python3 -c "print($(date +%s.%N) - $start)")
extra=$(python3 -c "print($down - $base)")
verdict="results verified"
[ $down_ok = 1 ] || verdict="FAILED: $(first_error)"
printf '%-44s %7.2f s vs %.2f s: %+.2f s (%s)\n' \
  "  20 x $SIZE, rail1 down for 1 s mid-run" "$down" "$base" "$extra" "$verdict"
# (The ranks' warnings can land in the middle of a table line: keep only the warning.)
grep -ho "\[railcc .*\(out of service\|back in service\).*" "$work"/r?.log | sed 's/^/  /' |
  head -n 4 || true
record rail_down.base_s "$base"
record rail_down.with_down_s "$down"
record rail_down.extra_s "$extra"
record rail_down.results_ok "$down_ok"

# target KEY NAME MET FIGURE: one line of the targets block (MET: 1, 0 or n/a).
target() {
  local v=missed
  case $3 in 1) v=met ;; n/a) v=n/a ;; esac
  printf '  %-50s %-7s %s\n' "$2" "$v" "$4"
  record "targets.$1.status" "$v"
  record "targets.$1.figure" "$4"
}
ge() { python3 -c "print(1 if ($1) >= ($2) else 0)"; }
echo
echo "targets"
r4=$(python3 -c "print(${bw[4]} * 8 / (4 * $one))")
target busbw_vs_iperf3 "np2 $SIZE busbw >= 90% of 4 x single-rail iperf3" "$(ge "$r4" 0.9)" \
  "$(printf '%.1f%% (%.2f of 4 x %.3f Gbit/s, tcp)' "$(python3 -c "print($r4 * 100)")" \
    "$(python3 -c "print(${bw[4]} * 8)")" "$one")"
if [ -n "$ucx_bw" ]; then
  target vs_ucx_striping "railcc >= UCX's own 4-rail striping" "$(ge "${bw[4]}" "$ucx_bw")" \
    "$(printf '%.2fx (railcc tcp %.3f GB/s vs ucx_perftest %.3f GB/s%s)' \
      "$(python3 -c "print(${bw[4]} / $ucx_bw)")" "${bw[4]}" "$ucx_bw" \
      "$([ -z "${ubw[4]:-}" ] || printf '; railcc ucx %.3f GB/s' "${ubw[4]}")$(
        [ "$used" = $N ] || echo "; UCX used only $used of $N rails")")"
else
  target vs_ucx_striping "railcc >= UCX's own 4-rail striping" n/a "no ucx_perftest figure"
fi
target scaling_1_2 "scaling 1 -> 2 rails >= 1.9x" "$(ge "$s2" 1.9)" "$(printf '%.2fx' "$s2")"
target scaling_1_4 "scaling 1 -> 4 rails >= 3.6x" "$(ge "$s4" 3.6)" "$(printf '%.2fx' "$s4")"
tr=$(python3 -c "print($throttled * 8 / $cap)")
target throttle "throttled rail: >= 90% of remaining capacity" "$(ge "$tr" 0.9)" \
  "$(printf '%.1f%% (%.2f of %.2f Gbit/s)' "$(python3 -c "print($tr * 100)")" \
    "$(python3 -c "print($throttled * 8)")" "$cap")"
target rail_down "rail down: < 2 s extra, results correct" \
  "$(python3 -c "print(1 if $extra < 2 and $down_ok == 1 else 0)")" \
  "$(printf '%+.2f s, %s' "$extra" "$verdict")"

if [ "${OUT:-}" != - ]; then
  results_dir="$root/bench/results"
  out=${OUT:-$results_dir/rails-$(date -u +%F).json}
  [ -n "${OUT:-}" ] || [ ! -e "$out" ] || out=$results_dir/rails-$(date -u +%F-%H%M%S).json
  mkdir -p "$(dirname "$out")"
  python3 - "$work/results" "$out" "$root" "$bin" <<'EOF'
import json, os, platform, subprocess, sys
from datetime import datetime, timezone

results, out, root, bin_dir = sys.argv[1:]
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
tree = {}
for line in open(results):
    key, _, value = line.rstrip("\n").partition("=")
    try:
        value = float(value)
    except ValueError:
        pass
    node = tree
    *path, leaf = key.split(".")
    for p in path:
        node = node.setdefault(p, {})
    node[leaf] = value
doc = {
    "benchmark": "bench/rails.sh: multi-rail all_reduce over 4 veth rails shaped to "
                 + os.environ.get("RAILS_RATE", "1gbit"),
    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    "command": "bench/rails.sh " + bin_dir,
    "machine": {"kernel": platform.platform(), "cpus": os.cpu_count(),
                "loadavg_end": " ".join(open("/proc/loadavg").read().split()[:3])},
    "versions": {"railcc_commit": run("git", "-C", root, "describe", "--always", "--dirty"),
                 "ucx": run("ucx_info", "-v").splitlines()[0:1]},
    "results": tree,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
EOF
  echo
  echo "results: ${out#"$root"/}"
fi
