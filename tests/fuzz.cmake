# libFuzzer targets (clang only, opt-in with -DRAILCC_BUILD_FUZZ=ON; scripts/fuzz.sh builds them
# in build-fuzz/ and runs each for a bounded time). Each target compiles the few library sources
# it exercises itself, so that only they carry the fuzzer and sanitizer instrumentation and the
# build stays short. Seed corpora: tests/fuzz/corpus/<target>/; dictionaries: tests/fuzz/*.dict.
# The topology target is defined with its sources in tests/topology.cmake.
option(RAILCC_BUILD_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(RAILCC_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RAILCC_BUILD_FUZZ=ON needs clang (libFuzzer); this is "
      "${CMAKE_CXX_COMPILER_ID}. Configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  function(railcc_add_fuzzer name)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.cc ${ARGN})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}
      ${PROJECT_SOURCE_DIR}/include)
    target_compile_options(${name} PRIVATE ${RAILCC_WARNINGS} -g
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE fmt::fmt)
  endfunction()
  set(s ${PROJECT_SOURCE_DIR})
  railcc_add_fuzzer(wire_fuzz ${s}/transport/wire_format.cc ${s}/src/common/data_type.cc)
  railcc_add_fuzzer(connection_fuzz ${s}/transport/stream_connection.cc
    ${s}/transport/connection.cc ${s}/transport/stream.cc ${s}/transport/wire_format.cc
    ${s}/transport/shm/cross_memory.cc ${s}/kernels/cpu/reduce.cc
    ${s}/kernels/cpu/reduce_scalar.cc ${s}/src/telemetry/clock.cc ${s}/src/telemetry/metrics.cc ${s}/src/telemetry/trace.cc
    ${s}/src/common/data_type.cc ${s}/src/common/errors.cc ${s}/src/common/log.cc
    ${s}/src/common/crc32c.cc)
  target_link_libraries(connection_fuzz PRIVATE hwy::hwy Threads::Threads)
  railcc_add_fuzzer(store_fuzz ${s}/src/bootstrap/store_request.cc)
  railcc_add_fuzzer(config_fuzz ${s}/src/common/config.cc ${s}/src/common/errors.cc)
endif()
