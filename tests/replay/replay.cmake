# tests/replay/replay.cmake — session log, replayer, desync and crash tests (issue 3), included from
# tests/CMakeLists.txt.
strata_add_test(NAME replay_log_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/replay_test.cc
  LIBS strata_replay strata_scenario LABELS replay)
# Each property case creates RocksDB directories (fsyncs): 25 cases keep the suite fast.
set_tests_properties(replay_log_test PROPERTIES ENVIRONMENT "RC_PARAMS=max_success=25")
