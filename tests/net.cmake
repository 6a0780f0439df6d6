# Multi-rail tests on real rails: two network namespaces joined by veth pairs shaped with tc
# (tests/net/netns_lib.sh). They need root; elsewhere they report SKIP (exit code 77).
if(RAILCC_BUILD_BENCH)
  foreach(scenario allreduce-1 allreduce-2 allreduce-4 allreduce-np4 throttle failover all-down
                   ucx-rails ucx-kill stall)
    set(name net_rails_${scenario})
    add_test(NAME ${name}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/net/rails_test.sh ${scenario}
              $<TARGET_FILE_DIR:all_reduce_perf>)
    set_tests_properties(${name} PROPERTIES LABELS "net" TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endif()
