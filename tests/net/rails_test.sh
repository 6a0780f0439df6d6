#!/usr/bin/env bash
# End-to-end multi-rail tests on real (veth, tc-shaped) rails between two network namespaces.
# Each scenario runs all_reduce_perf with one rank per namespace and checks the results (-c 1);
# the failure scenarios also check what the ranks report.
#
#   rails_test.sh SCENARIO BIN_DIR
#   SCENARIO: allreduce-1 | allreduce-2 | allreduce-4 | allreduce-np4 | failover | all-down |
#             throttle | ucx-rails | ucx-kill | stall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=netns_lib.sh
source "$here/netns_lib.sh"
scenario=$1
bin=$2
rails_require_root

work=$(mktemp -d)
port=$(rails_port)
fail() {
  echo "FAILED: $*"
  for f in "$work"/*.log; do
    echo "---- $f"
    tail -n 40 "$f"
  done
  exit 1
}

# job N_RAILS ARGS...: starts $NP ranks (default 2), the first half in A, the rest in B, in the
# background.
job() {
  local rails np=${NP:-2} r ns
  rails=$(rails_list "$1")
  shift
  pids=()
  for ((r = 0; r < np; r++)); do
    ns=$RAILS_NS_A
    ((r >= np / 2)) && ns=$RAILS_NS_B
    LOCAL_RANK=$((r % (np / 2))) rails_rank "$ns" "$r" "$np" "$port" "$rails" \
      "$bin/all_reduce_perf" "$@" >"$work/rank$r.log" 2>&1 &
    pids+=($!)
  done
}

# finish: waits for every rank; sets rcs (their exit codes) and rc0/rc1.
finish() {
  local p
  rcs=()
  for p in "${pids[@]}"; do
    if wait "$p"; then rcs+=(0); else rcs+=($?); fi
  done
  rc0=${rcs[0]} rc1=${rcs[1]}
}

expect_ok() {
  local rc
  for rc in "${rcs[@]}"; do [ "$rc" = 0 ] || fail "ranks exited with ${rcs[*]}"; done
  grep -q "Out of bounds values : 0 OK" "$work/rank0.log" || fail "results not verified OK"
  if grep -q "FAILED\|railcc error" "$work"/rank*.log; then fail "a rank reported an error"; fi
}

export RAILCC_TIMEOUT=60
# Failures dump the flight recorder here (removed with the rest when the scenario passes).
export RAILCC_FLIGHT_DIR="$work/flight"
case "$scenario" in
  allreduce-1 | allreduce-2 | allreduce-4)
    n=${scenario#allreduce-}
    rails_setup "$n"
    # Every size from 8 B (one chunk on one rail) to 16 MiB (striped), every type.
    job "$n" -b 8 -e 16M -f 4 -d all -o sum -c 1 -n 2 -w 1
    finish
    expect_ok
    ;;
  allreduce-np4)
    # Two ranks per host: shared memory inside a host, the rails across.
    rails_setup 2
    NP=4 job 2 -b 8 -e 16M -f 8 -d all -o sum -c 1 -n 2 -w 1
    finish
    expect_ok
    ;;
  failover)
    rails_setup 4
    # ~3 s of 32 MiB all_reduces; rail1 goes down in host A for 1 s in the middle.
    job 4 -b 32M -e 32M -c 1 -n 30 -w 0
    sleep 1
    ip -n "$RAILS_NS_A" link set rail1 down
    sleep 1
    ip -n "$RAILS_NS_A" link set rail1 up
    finish
    expect_ok
    grep -q "rail rail1 .*out of service" "$work/rank0.log" "$work/rank1.log" ||
      fail "no warning named rail1"
    if ! grep -q "rail rail1 .*back in service" "$work/rank0.log" "$work/rank1.log"; then
      fail "rail1 never rejoined"
    fi
    ;;
  throttle)
    rails_setup 2
    job 2 -b 32M -e 32M -c 1 -n 20 -w 0
    sleep 1
    rails_shape 1 100mbit
    finish
    expect_ok
    grep -q "rail rail1 .* is slow" "$work/rank0.log" "$work/rank1.log" ||
      fail "no warning named rail1 as slow"
    ;;
  all-down)
    rails_setup 2
    export RAILCC_TIMEOUT=30
    job 2 -b 32M -e 32M -c 1 -n 200 -w 0
    sleep 1
    ip -n "$RAILS_NS_A" link set rail0 down
    ip -n "$RAILS_NS_A" link set rail1 down
    finish
    [ "$rc0" != 0 ] && [ "$rc1" != 0 ] || fail "ranks exited with $rc0 and $rc1: the op must fail"
    for r in 0 1; do
      peer=$((1 - r))
      grep -q "every rail to rank $peer is out of service" "$work/rank$r.log" ||
        fail "rank $r did not say every rail to rank $peer is out of service"
      grep "every rail to rank $peer" "$work/rank$r.log" | grep -q "rail0 .*rail1" ||
        fail "rank $r's error does not name both rails"
    done
    ;;
  ucx-rails)
    # RAILCC_TRANSPORT=ucx across the two hosts over UCX's tcp: one UCX worker per rail, each
    # restricted to its rail's interface (UCX_NET_DEVICES per worker), endpoints with peer-failure
    # handling (the peer is remote). Every rail must carry a share of the bytes.
    rails_setup 2
    export RAILCC_TRANSPORT=ucx UCX_TLS=tcp
    declare -A before
    for k in 0 1; do before[$k]=$(ip netns exec "$RAILS_NS_B" cat /sys/class/net/rail$k/statistics/rx_bytes); done
    job 2 -b 8 -e 16M -f 4 -d all -o sum -c 1 -n 2 -w 1
    finish
    expect_ok
    for k in 0 1; do
      after=$(ip netns exec "$RAILS_NS_B" cat /sys/class/net/rail$k/statistics/rx_bytes)
      moved=$((after - before[$k]))
      echo "rail$k carried $moved bytes into host B"
      # The job moves well over 100 MB; a rail left out would carry next to nothing.
      [ "$moved" -gt 10000000 ] || fail "rail$k carried only $moved bytes: not striped over UCX"
    done
    ;;
  ucx-kill)
    # The remote peer's process dies mid-job: UCX reports the broken endpoints (peer-failure
    # handling) and rank 0 fails with an error naming rank 1 and the UCS status.
    rails_setup 2
    export RAILCC_TRANSPORT=ucx UCX_TLS=tcp RAILCC_TIMEOUT=60
    job 2 -b 32M -e 32M -c 1 -n 1000 -w 0
    sleep 2
    ip netns pids "$RAILS_NS_B" | xargs -r kill -9
    finish
    [ "$rc0" != 0 ] || fail "rank 0 exited with 0 although rank 1 was killed"
    # UCX noticed (a UCS status naming rank 1), not the RAILCC_TIMEOUT deadline.
    grep "railcc error" "$work/rank0.log" | grep "rank 1" | grep -q "UCS_ERR_" ||
      fail "rank 0's error does not carry UCX's report naming rank 1"
    grep -h "railcc error" "$work/rank0.log" | head -n 1
    ;;
  stall)
    # rail1 stops passing packets, its link staying up (a hung switch port): a shaper at 8 kbit/s
    # whose bucket is smaller than a segment drops everything (no netem needed). The failover
    # would move its chunks after RAILCC_RAIL_TIMEOUT; an hour keeps the job hung until
    # RAILCC_TIMEOUT, when both ranks dump their flight recorder and railcc-report must name
    # rail1 and the two ranks.
    rails_setup 2
    export RAILCC_TIMEOUT=5 RAILCC_RAIL_TIMEOUT=3600
    job 2 -b 32M -e 32M -c 1 -n 200 -w 0
    sleep 1
    for ns in "$RAILS_NS_A" "$RAILS_NS_B"; do
      ip netns exec "$ns" tc qdisc replace dev rail1 root tbf rate 8kbit burst 1000 latency 1ms
    done
    finish
    [ "$rc0" != 0 ] && [ "$rc1" != 0 ] || fail "ranks exited with $rc0 and $rc1: the op must fail"
    "$bin/railcc-report" "$work/flight" >"$work/report.log" 2>&1 || fail "railcc-report failed"
    cat "$work/report.log"
    grep -q "^rail1 between rank 0 and rank 1 stalled" "$work/report.log" ||
      fail "railcc-report did not name rail1 between rank 0 and rank 1"
    ;;
  *)
    echo "unknown scenario $scenario" >&2
    exit 2
    ;;
esac
grep -h "rail" "$work"/rank*.log | grep -v "^#" | head -n 20 || true
echo "PASSED: $scenario"
rm -rf "$work"
