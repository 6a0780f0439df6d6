add_executable(launcher_probe ${CMAKE_CURRENT_SOURCE_DIR}/launcher/probe.cc)
target_compile_options(launcher_probe PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(launcher_probe PRIVATE railcc)
add_test(NAME launcher_railcc_run
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/launcher_test.sh $<TARGET_FILE:railcc-run>
          $<TARGET_FILE:launcher_probe>)
set_tests_properties(launcher_railcc_run PROPERTIES LABELS "mp" TIMEOUT 120)
