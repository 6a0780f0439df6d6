#!/usr/bin/env bash
# Sets up like quickstart.sh, builds Release with every test, and runs them all (ctest; label torch
# builds the PyTorch backend into .venv and runs tests/torch), then
# builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit and multi-process
# tests again, then the multi-process tests under ThreadSanitizer.
# Usage: scripts/test.sh [--no-sanitize] [--sanitize-only]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
railcc_install_deps

run_release=1
run_sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) run_sanitize=0 ;;
    --sanitize-only) run_release=0 ;;
    *) echo "usage: scripts/test.sh [--no-sanitize] [--sanitize-only]" >&2; exit 2 ;;
  esac
done
jobs=$(railcc_jobs)
status=0

if [ $run_release -eq 1 ]; then
  echo "== Release build and every test"
  # The PyTorch backend's environment first: its tests (label torch) are registered when it exists.
  railcc_python_env .venv || {
    echo "railcc: could not set up .venv (torch tests skipped)" >&2
    status=1
  }
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRAILCC_BUILD_TESTS=ON -DRAILCC_BUILD_BENCH=ON
  cmake --build build -j"$jobs"
  echo "== PyTorch backend: build python/railcc against build/ and install it into .venv"
  if [ -x .venv/bin/python ]; then railcc_build_python .venv build || status=1; fi
  (cd build && ctest --output-on-failure --timeout 600 -j1) || status=1
fi

if [ $run_release -eq 1 ]; then
  echo "== libFuzzer targets (clang, 10 s each): wire, connection, store, config, topology"
  scripts/fuzz.sh 10 || status=1
fi

if [ $run_sanitize -eq 1 ]; then
  echo "== ASan+UBSan build: unit and multi-process tests"
  # CUDA off: sanitizers do not see into GPU code; the CUDA path's host logic is still tested
  # (railcc_fake_cuda_tests, label mp) against the emulated GPU.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAILCC_SANITIZE=address,undefined \
    -DRAILCC_CUDA=OFF -DRAILCC_BUILD_TESTS=ON -DRAILCC_BUILD_BENCH=OFF
  cmake --build build-asan -j"$jobs" --target railcc_unit_tests railcc_mp_tests railcc_verbs_tests \
    railcc_fake_cuda_tests railcc_ucx_tests railcc_soak_tests railcc-run railcc-topo launcher_probe \
    telemetry_probe railcc-report example_allreduce example_windows
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure --timeout 900 -j1 -L 'unit|mp|verbs|ucx|soak' -E 'capi_smoke|packaging') \
    || status=1
fi

if [ $run_sanitize -eq 1 ]; then
  # The mailbox tests too: their ops start on the submitting thread and may be finished by the
  # worker (CommunicatorImpl::run_now).
  echo "== TSan build: multi-process tests (the worker thread and user threads)"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAILCC_SANITIZE=thread \
    -DRAILCC_CUDA=OFF -DRAILCC_BUILD_TESTS=ON -DRAILCC_BUILD_BENCH=OFF
  cmake --build build-tsan -j"$jobs" --target railcc_mp_tests railcc_ucx_tests railcc_fake_cuda_tests
  export TSAN_OPTIONS=halt_on_error=1
  # UCX_MEM_EVENTS=no: UCX's memory hooks (it patches mmap/munmap to invalidate its registration
  # cache) crash the ranks under TSan's own interceptors (SIGSEGV); railcc does not rely on them.
  (cd build-tsan && UCX_MEM_EVENTS=no ctest --output-on-failure --timeout 900 -j1 \
    -R '^Transports/|^ErrorsTcp|^Ucx/|FakeCuda|^Mailbox\.|^Window\.') || status=1
fi

if [ $status -ne 0 ]; then
  # CI keeps only the tail of the log: repeat what each failing test said, last, so it survives.
  for dir in build build-asan build-tsan; do
    log=$dir/Testing/Temporary/LastTest.log
    [ -s "$dir/Testing/Temporary/LastTestsFailed.log" ] || continue
    echo "== $dir: failed tests" >&2
    while IFS=: read -r _ name; do
      echo "-- $name" >&2
      # That test's part of the log (its "N/M Testing: name" line to the next one), key lines.
      awk -v t="$name" '/^[0-9]+\/[0-9]+ Testing: / {if (p) exit; p = index($0, " Testing: " t) > 0}
                        p' "$log" |
        grep -E 'PROBLEM|Failure$|Expected|Which is|Actual|ERROR|SUMMARY|^ +#[0-9] |error:|hung' |
        head -n 30 >&2 || true
    done <"$dir/Testing/Temporary/LastTestsFailed.log"
  done
  echo "railcc: some tests FAILED" >&2
fi
exit $status
