#!/usr/bin/env bash
# The sample plot in docs/telemetry-sample-plot.png: all_reduce_perf (1 MiB to 32 MiB) on two
# ranks in two network namespaces joined by two tc-shaped 1 Gbit/s rails (tests/net/netns_lib.sh),
# rail1 throttled to 100 Mbit/s 2.5 s in, traced (RAILCC_TRACE) and drawn by railcc-report --plot.
#   bench/telemetry_sample_plot.sh [OUT_DIR]     (root; needs build/ and python3-matplotlib)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../tests/net/netns_lib.sh"
bin="$here/../build/bin"
rails_require_root
rails_setup 2
port=$(rails_port)
out=${1:-/tmp/railcc-telemetry-sample}
rm -rf "$out"
mkdir -p "$out"
export RAILCC_TRACE="$out" RAILCC_TIMEOUT=60
pids=()
for r in 0 1; do
  ns=$RAILS_NS_A
  [ $r = 1 ] && ns=$RAILS_NS_B
  LOCAL_RANK=0 rails_rank "$ns" "$r" 2 "$port" rail0,rail1 "$bin/all_reduce_perf" \
    -b 1M -e 32M -f 2 -c 0 -n 6 -w 1 >"$out/rank$r.log" 2>&1 &
  pids+=($!)
done
sleep 2.5
rails_shape 1 100mbit
wait "${pids[@]}"
"$bin/railcc-report" --plot "$out/plot.png" "$out"
echo "the plot: $out/plot.png"
