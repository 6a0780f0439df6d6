# Soak test (tests/soak/): thousands of mixed collectives on 8 ranks over shared memory, results
# checked, RSS and open fds of every rank compared before and after. Label `soak`; the CI
# variant runs 2000 ops, `RAILCC_SOAK_OPS=10000 build/bin/railcc_soak_tests` the long one.
add_executable(railcc_soak_tests soak/soak_test.cc soak/soak_ops.cc mp/harness.cc)
target_include_directories(railcc_soak_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_options(railcc_soak_tests PRIVATE ${RAILCC_WARNINGS})
target_link_libraries(railcc_soak_tests PRIVATE railcc_static fmt::fmt GTest::gtest_main)
add_test(NAME soak_mixed_collectives_shm COMMAND railcc_soak_tests)
set_tests_properties(soak_mixed_collectives_shm PROPERTIES LABELS "soak" TIMEOUT 900
  ENVIRONMENT "RAILCC_SOAK_OPS=2000")
