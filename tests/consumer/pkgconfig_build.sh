#!/usr/bin/env bash
# Builds consumer.cpp against an installed railcc with nothing but the flags pkg-config gives:
#   OUT_DIR/consumer_pc_shared  linked against librailcc.so   (pkg-config --libs)
#   OUT_DIR/consumer_pc_static  linked against librailcc.a    (pkg-config --static --libs)
# Usage: PKG_CONFIG_PATH=<prefix>/lib/pkgconfig pkgconfig_build.sh OUT_DIR
# Honours CXX, CXXFLAGS, LDFLAGS and PKG_CONFIG.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: PKG_CONFIG_PATH=... $0 OUT_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$1
cxx=${CXX:-g++}
pkg_config=${PKG_CONFIG:-pkg-config}
mkdir -p "$out"

# Word splitting of pkg-config output is intended: it is a list of flags.
read -r -a cflags <<<"$("$pkg_config" --cflags railcc)"
read -r -a libs <<<"$("$pkg_config" --libs railcc)"
read -r -a static_libs <<<"$("$pkg_config" --static --libs railcc)"
read -r -a extra_cxxflags <<<"${CXXFLAGS:-}"
read -r -a extra_ldflags <<<"${LDFLAGS:-}"

# Where librailcc.so and librailcc.a sit side by side, -lrailcc picks the shared one even with
# --static; -l:librailcc.a names the archive itself.
found=0
for i in "${!static_libs[@]}"; do
  if [[ ${static_libs[$i]} == -lrailcc ]]; then
    static_libs[i]=-l:librailcc.a
    found=1
  fi
done
if [[ $found -ne 1 ]]; then
  echo "pkgconfig_build.sh: no -lrailcc in 'pkg-config --static --libs railcc':" \
    "${static_libs[*]}" >&2
  exit 1
fi

# The C++ headers need C++20; railcc.pc leaves the standard to the user (see railcc.pc.in).
set -x
"$cxx" -std=c++20 "${extra_cxxflags[@]}" "${cflags[@]}" -o "$out/consumer_pc_shared" \
  "$here/consumer.cpp" "${extra_ldflags[@]}" "${libs[@]}"
"$cxx" -std=c++20 "${extra_cxxflags[@]}" "${cflags[@]}" -o "$out/consumer_pc_static" \
  "$here/consumer.cpp" "${extra_ldflags[@]}" "${static_libs[@]}"
