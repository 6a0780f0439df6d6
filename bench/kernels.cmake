# CPU micro-benchmarks (included from bench/CMakeLists.txt): the reduction kernels
# (build/bin/railcc_kernel_bench) and the telemetry per op (build/bin/railcc_telemetry_bench).
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark REQUIRED)
endif()
add_executable(railcc_kernel_bench ${CMAKE_CURRENT_LIST_DIR}/kernel_bench.cc)
target_include_directories(railcc_kernel_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_options(railcc_kernel_bench PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(railcc_kernel_bench PRIVATE railcc_static benchmark::benchmark)
set_target_properties(railcc_kernel_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# Per-op cost of the always-on telemetry (metrics, flight recorder): build/bin/railcc_telemetry_bench.
add_executable(railcc_telemetry_bench ${CMAKE_CURRENT_LIST_DIR}/telemetry_bench.cc)
target_include_directories(railcc_telemetry_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_options(railcc_telemetry_bench PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(railcc_telemetry_bench PRIVATE railcc_static benchmark::benchmark)
set_target_properties(railcc_telemetry_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# CUDA reduction kernels vs cudaMemcpy device-to-device (builds with CUDA only).
if(RAILCC_HAVE_CUDA)
  add_executable(railcc_cuda_kernel_bench ${CMAKE_CURRENT_LIST_DIR}/cuda_kernel_bench.cc
                                          ${CMAKE_CURRENT_LIST_DIR}/common/perf_args.cc)
  target_include_directories(railcc_cuda_kernel_bench PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(railcc_cuda_kernel_bench PRIVATE ${RAILCC_WARNINGS})
  target_link_libraries(railcc_cuda_kernel_bench PRIVATE railcc_static CUDA::cudart_static
                                                         CLI11::CLI11 fmt::fmt)
  set_target_properties(railcc_cuda_kernel_bench PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endif()
