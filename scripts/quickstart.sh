#!/usr/bin/env bash
# Sets up everything railcc needs on a fresh Debian 12 machine, builds it (Release, into build/)
# and runs the main job: all_reduce_perf on 4 local ranks from 8 B to 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
railcc_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRAILCC_BUILD_TESTS=OFF
cmake --build build -j"$(railcc_jobs)"

echo
echo "== all_reduce_perf, 4 ranks, 8 B .. 64 MiB (build/bin/railcc-run -n 4 build/bin/all_reduce_perf -b 8 -e 64M -f 2 -c 1)"
build/bin/railcc-run -n 4 build/bin/all_reduce_perf -b 8 -e 64M -f 2 -c 1
