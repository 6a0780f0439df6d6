#!/usr/bin/env bash
# Installs railcc's build and test dependencies from Debian packages when any is missing.
# Sourced by quickstart.sh and test.sh; safe to run again (does nothing when all are present).
set -euo pipefail

RAILCC_DEBIAN_PACKAGES=(
  build-essential cmake pkg-config
  libhwy-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libhwloc-dev hwloc-nox
  libssl-dev
  libibverbs-dev ibverbs-providers
  libucx-dev ucx-utils
  iperf3
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-prometheus-client python3-matplotlib
  python3-venv python3-dev ninja-build
)

# Only scripts/fuzz.sh needs these (libFuzzer ships in clang's runtime package); the main build
# stays on g++.
RAILCC_FUZZ_DEBIAN_PACKAGES=(clang libclang-rt-dev)

railcc_install_deps() { railcc_install_packages "${RAILCC_DEBIAN_PACKAGES[@]}"; }
railcc_install_fuzz_deps() { railcc_install_packages "${RAILCC_FUZZ_DEBIAN_PACKAGES[@]}"; }

# Installs those of the given Debian packages that are missing.
railcc_install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "railcc: installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "railcc: need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Number of parallel build jobs: all cores, at least 1.
railcc_jobs() { nproc 2>/dev/null || echo 2; }

# The Python environment of the PyTorch backend (python/railcc, tests/torch, examples/
# pytorch_ddp.py, bench/torch_compare.py): a virtual environment at the project root (or $1) with
# torch, numpy and pytest from PyPI. One that already imports them is reused untouched, so only
# the first run downloads (torch's wheels are several GB).
railcc_python_env() {
  local venv="${1:-.venv}"
  if [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c "import torch, numpy, pytest" 2>/dev/null; then
    return 0
  fi
  echo "railcc: setting up $venv with torch, numpy and pytest from PyPI"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy pytest
}

# Builds the torch backend extension (python/railcc/csrc) against the static library of the
# CMake build directory $2 (default build/) and installs the railcc package into the venv $1.
# Incremental: unchanged sources are not recompiled.
railcc_build_python() {
  local venv="${1:-.venv}" build="${2:-build}"
  case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
  MAX_JOBS="$(railcc_jobs)" RAILCC_BUILD_DIR="$build" \
    nice -n 10 "$venv/bin/pip" install -q --no-build-isolation ./python
}
