# fuzz/bus.cmake: the region event bus's untrusted input (issue 15, "Bad input"): a message's
# subject, message id header and size, as read from the stream. Included from fuzz/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/../server/bus.cmake)
strata_add_fuzzer(NAME fuzz_bus_delivery SOURCES ${CMAKE_CURRENT_LIST_DIR}/bus_delivery.cpp LIBS strata_server_bus
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/bus_delivery)
# A region's published map snapshot or desync map (server/map_snapshots.h); seeds written by
# server_map_snapshots_test with STRATA_MAP_SEED_DIR set.
strata_add_fuzzer(NAME fuzz_map_snapshot SOURCES ${CMAKE_CURRENT_LIST_DIR}/map_snapshot.cpp LIBS strata_server
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/map_snapshot)
