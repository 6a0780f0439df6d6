# The UCX transport (transport/ucx): stream unit tests in one process and multi-process
# collective suites over UCX's tcp and shared-memory transports. Built where libucx-dev was found.
if(RAILCC_HAVE_UCX)
  add_executable(railcc_ucx_tests
    ucx/ucx_stream_test.cc ucx/ucx_mp_test.cc
    mp/harness.cc mp/values.cc mp/collective_suite.cc)
  target_include_directories(railcc_ucx_tests PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(railcc_ucx_tests PRIVATE ${RAILCC_WARNINGS})
  target_link_libraries(railcc_ucx_tests PRIVATE railcc_static fmt::fmt GTest::gtest_main
                                                 ${CMAKE_DL_LIBS})
  # UCX's tcp stays on the loopback interface: tests send nothing to other addresses.
  gtest_discover_tests(railcc_ucx_tests PROPERTIES LABELS "ucx" TIMEOUT 300 DISCOVERY_TIMEOUT 60
                       ENVIRONMENT "UCX_NET_DEVICES=lo")
endif()
