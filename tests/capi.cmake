# C API smoke test: a C99 program that sees nothing but railcc.h, linked against the shared
# library the way a C (or FFI) user would, run alone and as three ranks under railcc-run.
add_executable(capi_smoke ${CMAKE_CURRENT_SOURCE_DIR}/c/capi_smoke.c)
set_target_properties(capi_smoke PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(capi_smoke PRIVATE -Wall -Wextra -pedantic)
target_link_libraries(capi_smoke PRIVATE railcc)

add_test(NAME capi_smoke_np1 COMMAND capi_smoke)
add_test(NAME capi_smoke_np3 COMMAND $<TARGET_FILE:railcc-run> -n 3 $<TARGET_FILE:capi_smoke>)
# One rank on its own, even if ctest itself was started inside a launched job.
set(capi_smoke_np1_env RAILCC_RANK=unset: RAILCC_WORLD_SIZE=unset: RAILCC_STORE_ADDR=unset:
  RANK=unset: WORLD_SIZE=unset:)
set_tests_properties(capi_smoke_np1 PROPERTIES LABELS "capi" TIMEOUT 60
  ENVIRONMENT_MODIFICATION "${capi_smoke_np1_env}")
set_tests_properties(capi_smoke_np3 PROPERTIES LABELS "mp;capi" TIMEOUT 120)
