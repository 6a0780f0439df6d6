"""Builds the railcc Python package: the torch.distributed backend extension (railcc._C).

The extension links the static railcc library built by CMake (``build/lib/librailcc.a`` at the
project root, or ``$RAILCC_BUILD_DIR/lib``); scripts/test.sh builds it first and installs this
package into ``.venv`` with ``pip install --no-build-isolation ./python``.
"""

import os
import pathlib

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension, include_paths

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = pathlib.Path(os.environ.get("RAILCC_BUILD_DIR", ROOT / "build"))
STATIC_LIB = BUILD / "lib" / "librailcc.a"
if not STATIC_LIB.exists():
    raise SystemExit(
        f"railcc: {STATIC_LIB} not found: build the library first "
        "(cmake -S . -B build && cmake --build build --target railcc_static)"
    )

# A CUDA build of railcc (RAILCC_CUDA, see cmake/cuda.cmake) puts device code and calls into the
# CUDA runtime in librailcc.a: link the same static runtime CMake found, and keep its symbols
# private to this module so they never interpose on torch's own libcudart.
CUDA_RUNTIME = []
_cache = BUILD / "CMakeCache.txt"
if _cache.exists():
    for line in _cache.read_text().splitlines():
        if line.startswith("CUDA_cudart_static_LIBRARY:FILEPATH="):
            _path = line.split("=", 1)[1]
            if _path and pathlib.Path(_path).exists():
                CUDA_RUNTIME = [_path]

SOURCES = [
    f"railcc/csrc/{name}.cpp"
    for name in ("backend", "completion_queue", "module", "store_adapter", "types", "work")
]

# torch's headers as system headers: -Wall -Wextra then report our code only.
system_includes = []
for path in include_paths():
    system_includes += ["-isystem", path]

extension = CppExtension(
    "railcc._C",
    SOURCES,
    include_dirs=[str(ROOT / "include")],
    extra_objects=[str(STATIC_LIB), *CUDA_RUNTIME],
    # What librailcc.a itself links against (see the root CMakeLists.txt).
    libraries=["hwy", "fmt", "hwloc", "crypto", *(["dl", "rt"] if CUDA_RUNTIME else [])],
    extra_link_args=["-Wl,--exclude-libs,libcudart_static.a"] if CUDA_RUNTIME else [],
    # -g0: Python's default flags add -g, which doubles the compile time of these torch-heavy
    # files and makes the module 10x larger.
    extra_compile_args=["-O2", "-g0", "-Wall", "-Wextra", *system_includes],
    depends=[str(STATIC_LIB), *(str(p) for p in (HERE / "railcc" / "csrc").glob("*.h"))],
)

setup(
    name="railcc",
    version="0.1.0",
    description="railcc collective-communication library as a torch.distributed backend",
    packages=["railcc"],
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
    python_requires=">=3.9",
)
