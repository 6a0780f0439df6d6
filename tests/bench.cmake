# The nccl-tests-style benchmarks double as end-to-end correctness tests: with -c 1 every
# result is checked and a wrong element makes the binary exit non-zero.
if(RAILCC_BUILD_BENCH)
  # ucx: RAILCC_TRANSPORT=ucx with UCX's defaults on this host (shared memory between local
  # ranks), its tcp kept on the loopback interface.
  foreach(transport shm tcp ucx)
    if(transport STREQUAL "ucx" AND NOT RAILCC_HAVE_UCX)
      continue()
    endif()
    foreach(np 3 4)
      foreach(coll all_reduce reduce_scatter all_gather broadcast reduce alltoall sendrecv)
        set(name bench_${coll}_np${np}_${transport})
        add_test(NAME ${name}
          COMMAND $<TARGET_FILE:railcc-run> -n ${np} --no-prefix $<TARGET_FILE:${coll}_perf>
                  -b 8 -e 2M -f 8 -d all -o all -r all -c 1 -n 1 -w 0)
        set_tests_properties(${name} PROPERTIES LABELS "bench" TIMEOUT 300
          ENVIRONMENT "RAILCC_TRANSPORT=${transport};RAILCC_TIMEOUT=120;UCX_NET_DEVICES=lo"
          PASS_REGULAR_EXPRESSION "Out of bounds values : 0 OK"
          FAIL_REGULAR_EXPRESSION "FAILED;railcc error")
      endforeach()
    endforeach()
  endforeach()
endif()

# The same on GPU buffers (label cuda): 1, 2 and 4 ranks on one GPU, every type, checked. Without
# a GPU the benchmark exits 77, which ctest reports as skipped.
if(RAILCC_BUILD_BENCH AND RAILCC_HAVE_CUDA)
  foreach(np 1 2 4)
    foreach(coll all_reduce reduce_scatter all_gather broadcast reduce alltoall sendrecv)
      set(name bench_${coll}_np${np}_cuda)
      add_test(NAME ${name}
        COMMAND $<TARGET_FILE:railcc-run> -n ${np} --no-prefix $<TARGET_FILE:${coll}_perf>
                --device cuda -b 8 -e 1M -f 32 -d all -o all -r all -c 1 -n 1 -w 0)
      set_tests_properties(${name} PROPERTIES LABELS "cuda" TIMEOUT 300 SKIP_RETURN_CODE 77
        ENVIRONMENT "RAILCC_TIMEOUT=120"
        PASS_REGULAR_EXPRESSION "Out of bounds values : 0 OK|no CUDA device"
        FAIL_REGULAR_EXPRESSION "FAILED;railcc error")
    endforeach()
  endforeach()
endif()
