# fuzz/schema.cmake — libFuzzer targets for the schema/ decoders, included from fuzz/CMakeLists.txt.
# Seeds under fuzz/corpus/schema_*/ were written from real encodings by tests/schema/write_seeds.cpp.
strata_add_fuzzer(NAME fuzz_schema_command SOURCES ${CMAKE_CURRENT_LIST_DIR}/schema_command.cpp
  LIBS strata_schema CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/schema_command)
strata_add_fuzzer(NAME fuzz_schema_tick_input SOURCES ${CMAKE_CURRENT_LIST_DIR}/schema_tick_input.cpp
  LIBS strata_schema CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/schema_tick_input)
strata_add_fuzzer(NAME fuzz_schema_snapshot SOURCES ${CMAKE_CURRENT_LIST_DIR}/schema_snapshot.cpp
  LIBS strata_schema CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/schema_snapshot)
# The region event bus's payloads (issue 15, "Bad input"); seeds by tests/schema/write_bus_seeds.cpp.
strata_add_fuzzer(NAME fuzz_bus_message SOURCES ${CMAKE_CURRENT_LIST_DIR}/bus_message.cpp
  LIBS strata_schema_bus CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/bus_message)
