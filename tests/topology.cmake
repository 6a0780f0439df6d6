# Topology (src/topology): where the unit tests find their topology files, railcc-topo runs on
# each of them, and the libFuzzer target for the topology parsers (clang only, opt-in).
target_compile_definitions(railcc_unit_tests PRIVATE
  RAILCC_TEST_TOPOLOGIES="${PROJECT_SOURCE_DIR}/tests/data/topologies"
  RAILCC_TEST_TOPOLOGY_EXTRA="${PROJECT_SOURCE_DIR}/tests/data/topology-extra"
  RAILCC_SHARED_TOPOLOGIES="${PROJECT_SOURCE_DIR}/../shared/topologies")
target_link_libraries(railcc_unit_tests PRIVATE nlohmann_json::nlohmann_json)

# railcc-topo on this machine: whatever it has, the tool must print a plan and exit 0.
add_test(NAME railcc_topo_live COMMAND railcc-topo)
set_tests_properties(railcc_topo_live PROPERTIES LABELS "unit;topology" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "CPUs: [0-9]+ package")
add_test(NAME railcc_topo_live_json COMMAND railcc-topo --json)
set_tests_properties(railcc_topo_live_json PROPERTIES LABELS "unit;topology" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "\"gpus\": \\[")
file(GLOB railcc_topo_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/data/topologies/*.xml)
foreach(f ${railcc_topo_files})
  get_filename_component(name ${f} NAME_WE)
  add_test(NAME railcc_topo_${name} COMMAND railcc-topo --json --topo-file ${f})
  set_tests_properties(railcc_topo_${name} PROPERTIES LABELS "unit;topology" TIMEOUT 60
    PASS_REGULAR_EXPRESSION "\"index\": 0")
endforeach()
# A file that is not there: a clear message, exit status 1.
add_test(NAME railcc_topo_missing_file COMMAND railcc-topo --topo-file /nonexistent/topo.xml)
set_tests_properties(railcc_topo_missing_file PROPERTIES LABELS "unit;topology" TIMEOUT 60
  WILL_FAIL TRUE)
add_test(NAME railcc_topo_missing_file_message COMMAND railcc-topo --topo-file /nonexistent/t.xml)
set_tests_properties(railcc_topo_missing_file_message PROPERTIES LABELS "unit;topology"
  TIMEOUT 60 PASS_REGULAR_EXPRESSION "cannot open topology file '/nonexistent/t.xml'")

# libFuzzer target: configure with -DCMAKE_CXX_COMPILER=clang++ -DRAILCC_BUILD_FUZZ=ON, then
#   mkdir -p /tmp/corpus && bin/topology_fuzz -dict=tests/fuzz/topology.dict /tmp/corpus \
#     tests/data/topologies tests/data/topology-extra
# It compiles the topology sources itself so that only they carry the fuzzer instrumentation.
option(RAILCC_BUILD_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(RAILCC_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RAILCC_BUILD_FUZZ=ON needs clang (libFuzzer); this is "
      "${CMAKE_CXX_COMPILER_ID}. Configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  file(GLOB railcc_topology_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/topology/*.cc)
  add_executable(topology_fuzz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/topology_fuzz.cc
    ${railcc_topology_sources} ${PROJECT_SOURCE_DIR}/src/common/errors.cc)
  target_include_directories(topology_fuzz PRIVATE ${PROJECT_SOURCE_DIR}
    ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(topology_fuzz PRIVATE ${RAILCC_WARNINGS} -g
    -fsanitize=fuzzer,address,undefined)
  target_link_options(topology_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(topology_fuzz PRIVATE PkgConfig::HWLOC fmt::fmt
    nlohmann_json::nlohmann_json)
endif()
