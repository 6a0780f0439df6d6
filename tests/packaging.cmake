# Packaging test: install this build tree into a temporary prefix and build an out-of-tree
# consumer against it with find_package(railcc CONFIG) and with pkg-config (shared and static).
# It runs `cmake --install` on this tree, so build everything first (cmake --build <dir>), and it
# compiles, so it runs alone rather than slowing down timing-sensitive tests beside it.
set(railcc_packaging_env
  "CMAKE=${CMAKE_COMMAND}" "CC=${CMAKE_C_COMPILER}" "CXX=${CMAKE_CXX_COMPILER}")
if(RAILCC_SANITIZE)
  # A sanitized librailcc.a needs the sanitizer runtime in every program that links it.
  list(APPEND railcc_packaging_env "CXXFLAGS=-fsanitize=${RAILCC_SANITIZE}"
    "LDFLAGS=-fsanitize=${RAILCC_SANITIZE}")
endif()
add_test(NAME packaging_consumer
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_packaging_test.sh ${CMAKE_BINARY_DIR}
    ${PROJECT_SOURCE_DIR})
set_tests_properties(packaging_consumer PROPERTIES LABELS "packaging" TIMEOUT 600 RUN_SERIAL TRUE
  ENVIRONMENT "${railcc_packaging_env}")
