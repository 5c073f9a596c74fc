# fuzz/replay.cmake — libFuzzer targets for the session log's decoders, included from
# fuzz/CMakeLists.txt. Seeds under fuzz/corpus/replay_*/ come from real logs (tests/replay/write_seeds.cpp).
strata_add_fuzzer(NAME fuzz_replay_record SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_record.cpp
  LIBS strata_schema CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_record)
strata_add_fuzzer(NAME fuzz_replay_export_file SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_export_file.cpp
  LIBS strata_replay PkgConfig::XXHASH CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_export_file)
# A log directory's keys and values (replay/rocks_keys.h), and hash stream text (read_hash_stream).
strata_add_fuzzer(NAME fuzz_replay_rocks_keys SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_rocks_keys.cpp
  LIBS strata_replay CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_rocks_keys)
strata_add_fuzzer(NAME fuzz_replay_hash_stream SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_hash_stream.cpp
  LIBS strata_replay CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/replay_hash_stream)
