# RAILCC_CUDA=auto|ON|OFF -> RAILCC_HAVE_CUDA. auto turns CUDA on when a CUDA compiler (nvcc) is
# found, except in sanitizer builds (RAILCC_SANITIZE), which test the CPU code.
set(RAILCC_HAVE_CUDA OFF)
string(TOUPPER "${RAILCC_CUDA}" railcc_cuda_mode)
if(railcc_cuda_mode STREQUAL "AUTO" AND RAILCC_SANITIZE)
  message(STATUS "railcc: CUDA off in this sanitizer build (RAILCC_CUDA=auto)")
elseif(NOT railcc_cuda_mode MATCHES "^(OFF|0|NO|FALSE)$")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Ampere (A100) and Hopper (H100/H200) only: each architecture adds to the build time.
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    # C++17 for the .cu files: CMake 3.25 does not know nvcc 13's C++20 flag (the kernels need no more).
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(RAILCC_HAVE_CUDA ON)
    message(STATUS "railcc: CUDA on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures "
                   "${CMAKE_CUDA_ARCHITECTURES})")
  elseif(railcc_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "RAILCC_CUDA=ON but no CUDA compiler was found: put nvcc on PATH or set "
                        "CMAKE_CUDA_COMPILER (or configure with -DRAILCC_CUDA=auto or OFF)")
  else()
    message(STATUS "railcc: CUDA off (no nvcc found; RAILCC_CUDA=auto)")
  endif()
else()
  message(STATUS "railcc: CUDA off (RAILCC_CUDA=${RAILCC_CUDA})")
endif()
