# nccl-tests style benchmarks: bin/<collective>_perf, one per collective (see bench/README.md).
# Included from bench/CMakeLists.txt.

set(RAILCC_PERF_BENCHMARKS
  all_reduce all_gather reduce_scatter broadcast reduce alltoall sendrecv)

# Argument parsing, data patterns and checks, timing loop and report, shared by every benchmark.
add_library(railcc_perf_common STATIC
  ${CMAKE_CURRENT_LIST_DIR}/common/data_pattern.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/perf_args.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/perf_report.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/perf_test.cc)
target_include_directories(railcc_perf_common PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(railcc_perf_common PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(railcc_perf_common
  PUBLIC railcc CLI11::CLI11 nlohmann_json::nlohmann_json fmt::fmt)

foreach(name ${RAILCC_PERF_BENCHMARKS})
  add_executable(${name}_perf ${CMAKE_CURRENT_LIST_DIR}/${name}_perf.cc)
  target_include_directories(${name}_perf PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name}_perf PRIVATE ${RAILCC_WARNINGS})
  target_link_libraries(${name}_perf PRIVATE
    railcc_perf_common railcc CLI11::CLI11 nlohmann_json::nlohmann_json fmt::fmt)
endforeach()
