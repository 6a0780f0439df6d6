#!/usr/bin/env bash
# Packaging test (ctest: packaging_consumer): installs an already-built railcc tree into a fresh
# prefix and builds the out-of-tree consumer in this directory against it, every way a user
# would: find_package(railcc CONFIG) with railcc::railcc and railcc::railcc_static, and
# pkg-config (shared, and --static against librailcc.a), plus a C program with pkg-config's flags.
# Each binary must run and print OK. Any failure ends the script with a message saying which step.
#
# Usage: run_packaging_test.sh BUILD_DIR SOURCE_DIR
# The build tree must be fully built (cmake --build BUILD_DIR): the install needs every target.
# Environment: CMAKE, CC, CXX, CXXFLAGS, LDFLAGS (passed down); RAILCC_KEEP_PACKAGING_TMP=1 keeps
# the temporary directory for inspection.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
consumer_dir=$source_dir/tests/consumer
cmake=${CMAKE:-cmake}

fail() {
  echo >&2
  echo "packaging_consumer FAILED: $*" >&2
  exit 1
}
step() {
  echo
  echo "==> $*"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/railcc-packaging.XXXXXX")
if [[ -n ${RAILCC_KEEP_PACKAGING_TMP:-} ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix

# The consumers are single-process programs; a launcher environment inherited from outside would
# make them wait for ranks that never come.
while read -r var; do
  unset "$var"
done < <(env | sed -n 's/^\(RAILCC_[A-Za-z0-9_]*\)=.*/\1/p')
unset RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE MASTER_ADDR MASTER_PORT \
  OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE PMI_RANK PMI_SIZE SLURM_PROCID SLURM_NTASKS

# Runs a consumer binary and checks it printed OK.
run_consumer() {
  local what=$1
  shift
  local output
  output=$("$@" 2>&1) || fail "$what exited with status $?: $output"
  echo "$output"
  [[ $output == *OK* ]] || fail "$what did not print OK: $output"
}

# Checks that `binary` loads librailcc.so from the test prefix (not the build tree or /usr/local).
check_loads_installed_lib() {
  local what=$1 binary=$2 line
  line=$(ldd "$binary" | grep 'librailcc\.so' || true)
  [[ -n $line ]] || fail "$what does not depend on librailcc.so: $(ldd "$binary")"
  [[ $line == *"=> $prefix/"* ]] || fail "$what loads librailcc.so from elsewhere: $line"
}

# Checks that `binary` has librailcc linked in, not loaded.
check_static() {
  local what=$1 binary=$2
  if readelf -d "$binary" | grep -q 'NEEDED.*librailcc'; then
    fail "$what was linked against librailcc.so, not librailcc.a:" \
      "$(readelf -d "$binary" | grep NEEDED)"
  fi
}

step "cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" ||
  fail "cmake --install failed; is the tree fully built? (cmake --build $build_dir)"

step "checking the installed files"
for f in include/railcc.h include/railcc/railcc.hpp; do
  [[ -f $prefix/$f ]] || fail "$f was not installed"
done
config=$(find "$prefix" -name railccConfig.cmake -print -quit)
pc=$(find "$prefix" -path '*/pkgconfig/railcc.pc' -print -quit)
[[ -n $config ]] || fail "railccConfig.cmake was not installed"
[[ -n $pc ]] || fail "railcc.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in librailcc.so librailcc.a; do
  [[ -e $libdir/$f ]] || fail "$f was not installed in $libdir"
done
# An installed package must not point back into the build or source tree.
if grep -rIl -e "$build_dir" -e "$source_dir" "$prefix/include" "$(dirname "$config")" "$pc"; then
  fail "the installed files above refer to the build or source tree"
fi

step "find_package(railcc CONFIG): configuring and building $consumer_dir"
cmake_args=(-S "$consumer_dir" -B "$work/cmake-build" -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
[[ -n ${CXX:-} ]] && cmake_args+=(-DCMAKE_CXX_COMPILER="$CXX")
"$cmake" "${cmake_args[@]}" || fail "configuring the CMake consumer failed"
found_dir=$(sed -n 's/^railcc_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
[[ $found_dir == "$prefix"/* ]] || fail "find_package found railcc in '$found_dir', not in $prefix"
"$cmake" --build "$work/cmake-build" -j2 || fail "building the CMake consumer failed"

step "running the CMake consumers"
check_loads_installed_lib consumer_shared "$work/cmake-build/consumer_shared"
check_static consumer_static "$work/cmake-build/consumer_static"
run_consumer "consumer_shared (railcc::railcc)" "$work/cmake-build/consumer_shared"
run_consumer "consumer_static (railcc::railcc_static)" "$work/cmake-build/consumer_static"

step "pkg-config: building with railcc.pc from $(dirname "$pc")"
PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
pc_prefix=$(pkg-config --variable=prefix railcc) || fail "pkg-config cannot read railcc.pc"
[[ $pc_prefix == "$prefix" ]] || fail "railcc.pc says prefix=$pc_prefix, installed in $prefix"
echo "railcc $(pkg-config --modversion railcc): cflags: $(pkg-config --cflags railcc)"
echo "  libs: $(pkg-config --libs railcc)   static: $(pkg-config --static --libs railcc)"
bash "$consumer_dir/pkgconfig_build.sh" "$work/pc-build" || fail "the pkg-config builds failed"

step "running the pkg-config consumers"
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  check_loads_installed_lib consumer_pc_shared "$work/pc-build/consumer_pc_shared"
check_static consumer_pc_static "$work/pc-build/consumer_pc_static"
run_consumer "consumer_pc_shared" \
  env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$work/pc-build/consumer_pc_shared"
run_consumer "consumer_pc_static" "$work/pc-build/consumer_pc_static"

# railcc.pc's Cflags must suit C too: the C API is for C programs (a C++-only flag such as
# -std=c++20 would be a warning here, an error with clang).
step "pkg-config: C program (tests/c/capi_smoke.c) with -Werror"
read -r -a c_flags <<<"$(pkg-config --cflags --libs railcc)"
read -r -a extra_flags <<<"${CXXFLAGS:-} ${LDFLAGS:-}"  # sanitizer flags, if any
"${CC:-cc}" -std=c99 -Wall -Wextra -pedantic -Werror "${extra_flags[@]}" \
  -o "$work/pc-build/capi_smoke_c" "$source_dir/tests/c/capi_smoke.c" "${c_flags[@]}" ||
  fail "building the C program failed"
run_consumer "capi_smoke (C, pkg-config)" env LD_LIBRARY_PATH="$libdir" \
  "$work/pc-build/capi_smoke_c"

echo
echo "packaging_consumer: all consumers built against $prefix and ran OK"
