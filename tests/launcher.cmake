add_executable(launcher_probe ${CMAKE_CURRENT_SOURCE_DIR}/launcher/probe.cc)
target_compile_options(launcher_probe PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(launcher_probe PRIVATE railcc)
add_test(NAME launcher_railcc_run
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/launcher_test.sh $<TARGET_FILE:railcc-run>
          $<TARGET_FILE:launcher_probe>)
set_tests_properties(launcher_railcc_run PROPERTIES LABELS "mp" TIMEOUT 120)

# The examples a user copies from, as they are meant to run (examples/).
foreach(example example_allreduce example_windows)
  add_test(NAME ${example}_np3 COMMAND $<TARGET_FILE:railcc-run> -n 3 $<TARGET_FILE:${example}>)
  set_tests_properties(${example}_np3 PROPERTIES LABELS "mp" TIMEOUT 120)
endforeach()
