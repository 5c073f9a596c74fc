# tests/schema/schema.cmake — schema/ codec tests (issue 2 part 3), included from tests/CMakeLists.txt.
strata_add_test(NAME schema_command_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/command_codec_test.cpp
  LIBS strata_schema LABELS schema)
strata_add_test(NAME schema_snapshot_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/snapshot_codec_test.cpp
  LIBS strata_schema strata_scenario LABELS schema)
strata_add_test(NAME schema_log_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/log_codec_test.cpp
  LIBS strata_schema LABELS schema)
strata_add_test(NAME schema_bus_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bus_codec_test.cpp
  LIBS strata_schema_bus PkgConfig::ZSTD LABELS schema)
# Writes fuzz/corpus/bus_message/ (run by hand; the seeds are committed).
add_executable(schema_write_bus_seeds ${CMAKE_CURRENT_LIST_DIR}/write_bus_seeds.cpp)
target_link_libraries(schema_write_bus_seeds PRIVATE strata_schema_bus)

# Writes the fuzzers' seed corpora from real encodings (run by hand; the seeds are committed).
add_executable(schema_write_seeds ${CMAKE_CURRENT_LIST_DIR}/write_seeds.cpp)
target_link_libraries(schema_write_seeds PRIVATE strata_schema strata_scenario)
strata_add_test(NAME schema_client_messages_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_messages_test.cpp
  LIBS strata_client_view LABELS schema)

# Issue 15's independent reader: world batches through a real nats-server (the fixture `nats` of
# tests/server/bus.cmake, its state in STRATA_SERVICES_DIR), decoded by the `capnp` tool (and
# `zstd -d`) with schema/bus.capnp alone. Not in STRATA_UNIT_TEST_BINARIES: it needs the fixture.
if(NOT STRATA_SANITIZE AND NOT STRATA_FUZZ)
  include(${PROJECT_SOURCE_DIR}/server/bus.cmake)
  find_program(STRATA_CAPNP_TOOL capnp REQUIRED)
  find_program(STRATA_ZSTD_TOOL zstd REQUIRED)
  add_executable(schema_bus_capnp_tool_test ${CMAKE_CURRENT_LIST_DIR}/bus_capnp_tool_test.cpp
                 ${PROJECT_SOURCE_DIR}/server/clock.cpp)
  target_link_libraries(schema_bus_capnp_tool_test PRIVATE strata_schema_bus strata_server_nats GTest::gtest
                        GTest::gtest_main)
  target_compile_definitions(schema_bus_capnp_tool_test PRIVATE STRATA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                             STRATA_CAPNP_TOOL="${STRATA_CAPNP_TOOL}" STRATA_ZSTD_TOOL="${STRATA_ZSTD_TOOL}")
  add_test(NAME schema_bus_capnp_tool_test COMMAND schema_bus_capnp_tool_test)
  set_tests_properties(schema_bus_capnp_tool_test PROPERTIES TIMEOUT 120 LABELS "services" FIXTURES_REQUIRED nats
                       ENVIRONMENT STRATA_SERVICES_DIR=${CMAKE_BINARY_DIR}/services)
endif()
