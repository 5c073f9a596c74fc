# tests/server/bus.cmake: the Bus port. The twin alone (unit and rapidcheck properties), included
# from tests/server/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/../../server/bus.cmake)
strata_add_test(NAME server_bus_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/bus_names_test.cpp
                ${CMAKE_CURRENT_LIST_DIR}/bus_memory_test.cpp ${CMAKE_CURRENT_LIST_DIR}/bus_outbox_test.cpp LIBS strata_server_bus)

# Against a real nats-server -js: one per ctest run, the fixture `nats` (tools/service-nats.sh).
# Not in STRATA_UNIT_TEST_BINARIES: the sanitizer run would start it without the fixture.
set(STRATA_SERVICES_DIR ${CMAKE_BINARY_DIR}/services)
add_test(NAME services.nats.start COMMAND ${PROJECT_SOURCE_DIR}/tools/service-nats.sh start ${STRATA_SERVICES_DIR})
set_tests_properties(services.nats.start PROPERTIES FIXTURES_SETUP nats TIMEOUT 30)
add_test(NAME services.nats.stop COMMAND ${PROJECT_SOURCE_DIR}/tools/service-nats.sh stop ${STRATA_SERVICES_DIR})
set_tests_properties(services.nats.stop PROPERTIES FIXTURES_CLEANUP nats TIMEOUT 30)
add_executable(server_bus_nats_test ${CMAKE_CURRENT_LIST_DIR}/bus_nats_test.cpp ${PROJECT_SOURCE_DIR}/server/clock.cpp)
target_link_libraries(server_bus_nats_test PRIVATE strata_server_nats PkgConfig::NATS GTest::gtest GTest::gtest_main)
add_test(NAME server_bus_nats_test COMMAND server_bus_nats_test)
set_tests_properties(server_bus_nats_test PROPERTIES TIMEOUT 180 LABELS "services" FIXTURES_REQUIRED nats
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})

# A 3-node JetStream cluster (the fixture `nats_cluster`): replicas 3, one server killed mid-play.
# DISABLED (run it by hand: ctest -R nats_cluster after removing DISABLED, or the binary with the
# fixture started by tools/service-nats.sh start-cluster): the writer side holds (every publish
# acked, each message stored once), but in about half the runs the reader, once its server is
# killed, never gets another message: new consumers are created and send nothing (not even
# heartbeats), with nats.c 3.4.1's ordered consumers and with the bus's own recreation alike.
# Not understood yet; see the issue 15 notes.
add_test(NAME services.nats_cluster.start COMMAND ${PROJECT_SOURCE_DIR}/tools/service-nats.sh start-cluster ${STRATA_SERVICES_DIR})
set_tests_properties(services.nats_cluster.start PROPERTIES FIXTURES_SETUP nats_cluster TIMEOUT 60)
add_test(NAME services.nats_cluster.stop COMMAND ${PROJECT_SOURCE_DIR}/tools/service-nats.sh stop-cluster ${STRATA_SERVICES_DIR})
set_tests_properties(services.nats_cluster.stop PROPERTIES FIXTURES_CLEANUP nats_cluster TIMEOUT 60)
add_executable(server_bus_nats_cluster_test ${CMAKE_CURRENT_LIST_DIR}/bus_nats_cluster_test.cpp ${PROJECT_SOURCE_DIR}/server/clock.cpp)
target_link_libraries(server_bus_nats_cluster_test PRIVATE strata_server_nats GTest::gtest GTest::gtest_main)
add_test(NAME server_bus_nats_cluster_test COMMAND server_bus_nats_cluster_test)
set_tests_properties(server_bus_nats_cluster_test PROPERTIES TIMEOUT 240 LABELS "services" FIXTURES_REQUIRED nats_cluster
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR} DISABLED TRUE)
set_tests_properties(services.nats_cluster.start services.nats_cluster.stop PROPERTIES DISABLED TRUE)

# Regions replicating through RegionLink over the twin (no service): convergence, faults, bad payloads.
strata_add_test(NAME server_region_link_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/region_link_test.cpp
                LIBS strata_server strata_scenario TIMEOUT 300)
# A region's own batches read back from its log: let go during a long cut, or lost by a restart.
strata_add_test(NAME server_region_log_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/region_log_test.cpp
                LIBS strata_server_region_bus strata_scenario TIMEOUT 300)

# Map snapshots (server/map_snapshots.h): codec, parts, seeded worlds, desync maps, and a region
# bootstrapped over the twins; then the same bootstrap and the bucket's twin check against nats-server.
strata_add_test(NAME server_map_snapshots_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/map_snapshots_test.cpp
                LIBS strata_server strata_scenario TIMEOUT 300)
add_executable(server_map_snapshots_nats_test ${CMAKE_CURRENT_LIST_DIR}/map_snapshots_nats_test.cpp)
target_link_libraries(server_map_snapshots_nats_test PRIVATE strata_server_map_store_nats strata_server_nats strata_server
                      strata_scenario GTest::gtest GTest::gtest_main)
add_test(NAME server_map_snapshots_nats_test COMMAND server_map_snapshots_nats_test)
set_tests_properties(server_map_snapshots_nats_test PROPERTIES TIMEOUT 180 LABELS "services" FIXTURES_REQUIRED nats
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})
# strata-desync maps on two desync maps that differ in three (cell, layer) pairs (the fuzz seeds).
add_test(NAME tools_desync_maps COMMAND strata-desync maps ${PROJECT_SOURCE_DIR}/fuzz/corpus/map_snapshot/40-region1-vs-2.map
         ${PROJECT_SOURCE_DIR}/fuzz/corpus/map_snapshot/40-region2-vs-1.map)
set_tests_properties(tools_desync_maps PROPERTIES PASS_REGULAR_EXPRESSION
                     "first difference: chunk 0, cell \\(5, 6\\), layer active.*A: kind 2 state 0 stamp \\(hlc 1000, region 1\\).*B: kind 2 state 0 stamp \\(hlc 1001, region 1\\).*differing cells \\(cell, layer pairs\\): 3")
