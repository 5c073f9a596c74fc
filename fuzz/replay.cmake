# fuzz/replay.cmake — libFuzzer targets for the session log's decoders, included from
# fuzz/CMakeLists.txt. Seeds under fuzz/corpus/replay_*/ come from real logs (tests/replay/write_seeds.cc).
strata_add_fuzzer(NAME fuzz_replay_record SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_record.cc
  LIBS strata_schema CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_record)
strata_add_fuzzer(NAME fuzz_replay_export_file SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_export_file.cc
  LIBS strata_replay PkgConfig::XXHASH CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_export_file)
