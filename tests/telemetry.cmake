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
set_tests_properties(telemetry_metrics_and_traces PROPERTIES LABELS "mp;telemetry" TIMEOUT 120)

# Flight recorder dumps named by railcc-report (hang, SIGUSR1, fatal error, stalled rail) and
# detailed traces (per-step, per-rail and kernel spans): tests/telemetry/test_flight_recorder.py.
foreach(case hang sigusr1 fatal rail_stall trace)
  add_test(NAME telemetry_flight_${case}
    COMMAND ${RAILCC_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/telemetry/test_flight_recorder.py
            ${case} $<TARGET_FILE:railcc-run> $<TARGET_FILE:telemetry_probe>
            $<TARGET_FILE:railcc-report>)
  set_tests_properties(telemetry_flight_${case} PROPERTIES LABELS "mp;telemetry" TIMEOUT 180)
endforeach()
