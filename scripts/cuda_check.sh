#!/usr/bin/env bash
# The CUDA checks of issue 8, for a machine with a GPU (e.g. one H100, 16 cores; about 5-8 min):
#   1. builds with RAILCC_CUDA=ON (architectures 80;90) into build-cuda/;
#   2. ctest -L cuda: kernels vs the CPU reference, collectives on GPU buffers with 1, 2 and 4
#      ranks on the one GPU (CUDA IPC and host staging), stream ordering, the *_perf benchmarks
#      on GPU buffers (every type and op, checked);
#   3. railcc_cuda_kernel_bench at 256 MiB, every type, sum: float32 and bfloat16 sum must reach
#      85% of cudaMemcpy device-to-device bandwidth;
#   4. all_reduce_perf --device cuda with 1, 2 and 4 ranks on the GPU: every type and op checked
#      (-c 1) up to 64 MiB, then float32 / bfloat16 sum timed at 256 MiB;
# and prints a compact summary. Logs stay in build-cuda/cuda_check/. Exit status 0 = all passed.
# Usage: scripts/cuda_check.sh [build-dir]
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-cuda}
logs=$dir/cuda_check
jobs=$(nproc 2>/dev/null || echo 4)
mkdir -p "$logs"
status=0
fail() { echo "FAIL: $*"; status=1; }

echo "== GPU"
nvidia-smi -L 2>/dev/null || echo "(nvidia-smi not available)"

echo "== build ($dir, RAILCC_CUDA=ON)"
start=$(date +%s)
if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DRAILCC_CUDA=ON -DRAILCC_BUILD_TESTS=ON \
    -DRAILCC_BUILD_BENCH=ON >"$logs/configure.log" 2>&1; then
  tail -20 "$logs/configure.log"; exit 1
fi
targets="railcc_cuda_kernel_tests railcc_cuda_mp_tests railcc_fake_cuda_tests railcc_cuda_kernel_bench
  railcc-run all_reduce_perf reduce_scatter_perf all_gather_perf broadcast_perf reduce_perf
  alltoall_perf sendrecv_perf"
# shellcheck disable=SC2086
if ! cmake --build "$dir" -j"$jobs" --target $targets >"$logs/build.log" 2>&1; then
  grep -E "error" "$logs/build.log" | head -20; exit 1
fi
echo "built in $(( $(date +%s) - start )) s"

echo "== ctest -L cuda"
(cd "$dir" && ctest -L cuda -j1 --timeout 300 --output-on-failure) >"$logs/ctest.log" 2>&1 \
  || fail "ctest -L cuda (see $logs/ctest.log)"
grep -E "tests passed|Skipped|Failed|\*\*\*Failed|Not Run" "$logs/ctest.log" | tail -15

echo "== kernel bandwidth at 256 MiB vs cudaMemcpy D2D"
"$dir/bin/railcc_cuda_kernel_bench" -b 256M -e 256M -d all -o all --min-ratio 0.85 \
  >"$logs/kernel_bench.log" 2>&1 || fail "float32/bfloat16 sum below 85% of memcpy (or error)"
grep -E "^#|  float  +sum|bfloat16 +sum" "$logs/kernel_bench.log"

echo "== all_reduce_perf --device cuda, 1 / 2 / 4 ranks on the GPU"
for np in 1 2 4; do
  out="$logs/all_reduce_np${np}_check.log"
  "$dir/bin/railcc-run" -n "$np" --no-prefix "$dir/bin/all_reduce_perf" --device cuda \
    -b 8 -e 64M -f 8 -d all -o all -c 1 -n 2 -w 1 >"$out" 2>&1 \
    || fail "all_reduce_perf np=$np every type/op (see $out)"
  wrong=$(grep -E "Out of bounds values" "$out" || echo "no summary line")
  echo "np=$np every type and op, 8 B..64 MiB, -c 1: $wrong"
  for t in float bfloat16; do
    out="$logs/all_reduce_np${np}_${t}_256M.log"
    "$dir/bin/railcc-run" -n "$np" --no-prefix "$dir/bin/all_reduce_perf" --device cuda \
      -b 256M -e 256M -d "$t" -o sum -c 1 -n 20 -w 5 >"$out" 2>&1 \
      || fail "all_reduce_perf np=$np $t 256M (see $out)"
    row=$(grep -E "^ +268435456" "$out" | head -1)
    echo "np=$np $t sum 256 MiB (size count type redop root | time algbw busbw #wrong | in place):"
    echo "   $row"
  done
done
out="$logs/all_reduce_np2_staging.log"
RAILCC_CUDA_IPC=0 "$dir/bin/railcc-run" -n 2 --no-prefix "$dir/bin/all_reduce_perf" --device cuda \
  -b 1M -e 256M -f 16 -d float -o sum -c 1 -n 5 -w 1 >"$out" 2>&1 \
  || fail "all_reduce_perf np=2 through host staging (see $out)"
echo "np=2 float sum through host staging (RAILCC_CUDA_IPC=0): $(grep -E 'Avg bus bandwidth' "$out")"

echo "== summary: $([ $status -eq 0 ] && echo PASSED || echo FAILED) (logs in $logs)"
exit $status
