#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for a bounded time from
# its committed seed corpus (tests/fuzz/corpus/<target>/, plus what earlier runs found in
# build-fuzz/corpus/<target>/), then prints each target's execution count. A crash, sanitizer
# report or escaped exception fails the script and leaves the input in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [seconds per target, default 10]   (FUZZ_JOBS sets build parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
source scripts/deps.sh
railcc_install_fuzz_deps
targets=(wire_fuzz connection_fuzz store_fuzz config_fuzz topology_fuzz)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DRAILCC_BUILD_FUZZ=ON -DRAILCC_BUILD_TESTS=ON -DRAILCC_BUILD_BENCH=OFF \
  > /dev/null
cmake --build build-fuzz -j"${FUZZ_JOBS:-$(nproc)}" --target "${targets[@]}"

status=0
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  name=${t%_fuzz}
  seeds=tests/fuzz/corpus/$t
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  [ "$t" = topology_fuzz ] && seeds="tests/data/topologies tests/data/topology-extra"
  mkdir -p "build-fuzz/corpus/$t"
  log=build-fuzz/artifacts/$t.log
  # shellcheck disable=SC2086  # $seeds is a list of directories
  if build-fuzz/bin/$t -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="build-fuzz/artifacts/$t-" "build-fuzz/corpus/$t" $seeds > "$log" 2>&1; then
    echo "$t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") executions, no crash"
  else
    echo "$t: FAILED (log: $log)" >&2
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" >&2 || tail -20 "$log" >&2
    status=1
  fi
done
exit $status
