# Telemetry end to end (tests/telemetry): Prometheus over HTTP, stragglers, merged traces.
add_executable(telemetry_probe ${CMAKE_CURRENT_SOURCE_DIR}/telemetry/telemetry_probe.cc)
target_compile_options(telemetry_probe PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(telemetry_probe PRIVATE railcc)
# Debian's python3 (where scripts/deps.sh installs python3-prometheus-client), not whatever
# python3 comes first on PATH.
find_program(RAILCC_DEBIAN_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT RAILCC_DEBIAN_PYTHON)
  set(RAILCC_DEBIAN_PYTHON python3)
endif()
add_test(NAME telemetry_metrics_and_traces
  COMMAND ${RAILCC_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/telemetry/test_telemetry.py
          $<TARGET_FILE:railcc-run> $<TARGET_FILE:telemetry_probe> $<TARGET_FILE:railcc-report>)
set_tests_properties(telemetry_metrics_and_traces PROPERTIES LABELS "mp" TIMEOUT 120)
