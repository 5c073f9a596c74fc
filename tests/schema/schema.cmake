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
