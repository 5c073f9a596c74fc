# tests/replay/replay.cmake — session log, replayer, desync and crash tests (issue 3), included from
# tests/CMakeLists.txt.
strata_add_test(NAME replay_log_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_test.cpp
  LIBS strata_replay strata_scenario LABELS replay)
# Each property case creates RocksDB directories (fsyncs): 25 cases keep the suite fast.
set_tests_properties(replay_log_test PROPERTIES ENVIRONMENT "RC_PARAMS=max_success=25")
# The in-memory SessionLog: crash model per fsync policy, same records as RocksDB, injected faults.
strata_add_test(NAME replay_memory_log_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/memory_log_test.cpp
  LIBS strata_replay strata_scenario LABELS replay)
strata_add_test(NAME replay_desync_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/desync_test.cpp
  LIBS strata_replay strata_scenario LABELS replay)
if(TARGET strata-replay AND TARGET strata-desync)
  target_compile_definitions(replay_desync_test PRIVATE STRATA_REPLAY_BIN="$<TARGET_FILE:strata-replay>"
                                                        STRATA_DESYNC_BIN="$<TARGET_FILE:strata-desync>")
  add_dependencies(replay_desync_test strata-replay strata-desync)
else()
  target_compile_definitions(replay_desync_test PRIVATE STRATA_REPLAY_BIN="strata-replay" STRATA_DESYNC_BIN="strata-desync")
endif()
# strata-replay saves (tools/replay/player_saves.h): the leaves and returns of players over logs.
strata_add_test(NAME replay_saves_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/saves_test.cpp ${PROJECT_SOURCE_DIR}/tools/replay/player_saves.cpp
  LIBS strata_replay strata_scenario LABELS replay)
if(TARGET strata-replay)
  target_compile_definitions(replay_saves_test PRIVATE STRATA_REPLAY_BIN="$<TARGET_FILE:strata-replay>")
  add_dependencies(replay_saves_test strata-replay)
else()
  target_compile_definitions(replay_saves_test PRIVATE STRATA_REPLAY_BIN="strata-replay")
endif()
# Crash test: a child (replay_crash_writer) appends and is SIGKILLed at random moments.
add_executable(replay_crash_writer ${CMAKE_CURRENT_LIST_DIR}/crash_writer.cpp)
target_link_libraries(replay_crash_writer PRIVATE strata_replay strata_scenario)
strata_add_test(NAME replay_crash_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/crash_test.cpp
  LIBS strata_replay strata_scenario LABELS replay)
target_compile_definitions(replay_crash_test PRIVATE STRATA_CRASH_WRITER_BIN="$<TARGET_FILE:replay_crash_writer>")
add_dependencies(replay_crash_test replay_crash_writer)
# Writes the replay fuzzers' seed corpora (run by hand; the seeds are committed).
add_executable(replay_write_seeds ${CMAKE_CURRENT_LIST_DIR}/write_seeds.cpp)
target_link_libraries(replay_write_seeds PRIVATE strata_replay strata_scenario)
strata_add_test(NAME replay_golden_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden_test.cpp
  LIBS strata_replay LABELS replay)
target_compile_definitions(replay_golden_test PRIVATE STRATA_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/../data")
