# Shared helpers so every module declares its tests, benchmarks and fuzzers the same way.

# strata_add_test(NAME name SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s])
# One GoogleTest (+rapidcheck) executable registered with CTest as one test per binary, so the
# sanitizer build can run the same binaries. Binaries are collected in STRATA_UNIT_TEST_BINARIES.
function(strata_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main rapidcheck_gtest rapidcheck)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports false maybe-uninitialized through std::variant inlined into rapidcheck lambdas.
    target_compile_options(${T_NAME} PRIVATE -Wno-maybe-uninitialized)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;${T_LABELS}")
  set_property(GLOBAL APPEND PROPERTY STRATA_UNIT_TEST_BINARIES ${T_NAME})
endfunction()

# strata_add_fuzzer(NAME name SOURCES ... LIBS ... CORPUS dir)
# A libFuzzer target (only in the STRATA_FUZZ build). The suite runs each one for a bounded time
# over its seed corpus (see tests/CMakeLists.txt).
function(strata_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS" "SOURCES;LIBS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY STRATA_FUZZERS "${F_NAME}|${F_CORPUS}")
  if(NOT STRATA_FUZZ)
    return()
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
endfunction()
