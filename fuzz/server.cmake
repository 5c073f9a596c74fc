# Fuzzers of server/: the configuration reader (YAML + environment values).
strata_add_fuzzer(NAME fuzz_server_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_config.cpp LIBS strata_server_core
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/server_config)
strata_add_fuzzer(NAME fuzz_client_snapshot SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_snapshot.cpp LIBS strata_client_view
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/client_snapshot)
strata_add_fuzzer(NAME fuzz_client_messages SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_messages.cpp LIBS strata_client_view
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/client_messages)
# A client's bytes through the decoder, the scheduler and the log record codec: every tick decodes.
strata_add_fuzzer(NAME fuzz_server_client_path SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_client_path.cpp
                  LIBS strata_server_core strata_client_view CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/server_client_path)
# Map chunks read back from the map store (server/map_chunks.h).
strata_add_fuzzer(NAME fuzz_map_chunks SOURCES ${CMAKE_CURRENT_LIST_DIR}/map_chunks.cpp LIBS strata_server_map_chunks
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/map_chunks)
# A player's save read back from the player store (server/player_saves.h).
strata_add_fuzzer(NAME fuzz_player_save SOURCES ${CMAKE_CURRENT_LIST_DIR}/player_save.cpp LIBS strata_server_player_saves
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/player_save)
