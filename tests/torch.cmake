# The PyTorch backend (python/railcc): torch_build builds the extension against this build's
# static library and installs it into the project's .venv (scripts/deps.sh railcc_python_env
# creates it; scripts/test.sh does so before configuring); torch_pytest runs tests/torch with it:
# every op against local references on 4 ranks, futures, new_group, the error cases, and the DDP
# example against gloo. Registered only when .venv exists, and only for uninstrumented builds
# (a sanitized librailcc.a cannot load into an uninstrumented Python).
set(RAILCC_VENV_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python)
if(EXISTS ${RAILCC_VENV_PYTHON} AND NOT RAILCC_SANITIZE)
  add_test(NAME torch_build
    COMMAND bash -c "source scripts/deps.sh && railcc_build_python .venv '${CMAKE_BINARY_DIR}'"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(torch_build PROPERTIES LABELS "torch" TIMEOUT 1200
    FIXTURES_SETUP railcc_torch_extension)
  add_test(NAME torch_pytest
    COMMAND ${RAILCC_VENV_PYTHON} -m pytest -q -p no:cacheprovider tests/torch
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(torch_pytest PROPERTIES LABELS "torch" TIMEOUT 600
    FIXTURES_REQUIRED railcc_torch_extension)
elseif(NOT EXISTS ${RAILCC_VENV_PYTHON})
  message(STATUS "railcc: no .venv (scripts/deps.sh railcc_python_env): torch tests not registered")
endif()
