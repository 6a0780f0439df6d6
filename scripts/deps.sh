#!/usr/bin/env bash
# Installs railcc's build and test dependencies from Debian packages when any is missing.
# Sourced by quickstart.sh and test.sh; safe to run again (does nothing when all are present).
set -euo pipefail

RAILCC_DEBIAN_PACKAGES=(
  build-essential cmake pkg-config
  libhwy-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libhwloc-dev hwloc-nox
  libibverbs-dev ibverbs-providers
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-prometheus-client
)

railcc_install_deps() {
  local missing=()
  for p in "${RAILCC_DEBIAN_PACKAGES[@]}"; do
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
