# tests/storage/: the store ports. The conformance suites (conformance.h) run over every store: here
# the twin and RocksDB (no service needed); redis_test and mariadb_test run them against real
# servers that CTest fixtures start once per run (tools/service-redis.sh, tools/service-mariadb.sh).
strata_add_test(NAME storage_ports_test
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/conformance_local_test.cpp ${CMAKE_CURRENT_LIST_DIR}/async_port_test.cpp
                LIBS strata_store_set TIMEOUT 300)

# Throwaway servers, once per ctest run (tools/service-<name>.sh writes <dir>/<name>.env).
set(STRATA_SERVICES_DIR ${CMAKE_BINARY_DIR}/services)
add_test(NAME services.redis.start COMMAND ${PROJECT_SOURCE_DIR}/tools/service-redis.sh start ${STRATA_SERVICES_DIR})
add_test(NAME services.redis.stop COMMAND ${PROJECT_SOURCE_DIR}/tools/service-redis.sh stop ${STRATA_SERVICES_DIR})
set_tests_properties(services.redis.start PROPERTIES FIXTURES_SETUP redis TIMEOUT 30)
set_tests_properties(services.redis.stop PROPERTIES FIXTURES_CLEANUP redis TIMEOUT 30)

# Not in STRATA_UNIT_TEST_BINARIES (the sanitizer run has no service fixtures): plain executables.
add_executable(storage_redis_test ${CMAKE_CURRENT_LIST_DIR}/redis_test.cpp)
target_link_libraries(storage_redis_test PRIVATE strata_stores_redis GTest::gtest GTest::gtest_main rapidcheck_gtest rapidcheck)
target_compile_options(storage_redis_test PRIVATE -Wno-maybe-uninitialized)
add_test(NAME storage_redis_test COMMAND storage_redis_test)
# RESOURCE_LOCK: these tests stop and restart the servers; any other test of the same service must
# say RESOURCE_LOCK <name> too, so it never runs during an outage it did not ask for.
set_tests_properties(storage_redis_test PROPERTIES FIXTURES_REQUIRED redis RESOURCE_LOCK redis TIMEOUT 300 LABELS services
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})

add_test(NAME services.mariadb.start COMMAND ${PROJECT_SOURCE_DIR}/tools/service-mariadb.sh start ${STRATA_SERVICES_DIR})
add_test(NAME services.mariadb.stop COMMAND ${PROJECT_SOURCE_DIR}/tools/service-mariadb.sh stop ${STRATA_SERVICES_DIR})
set_tests_properties(services.mariadb.start PROPERTIES FIXTURES_SETUP mariadb TIMEOUT 60)
set_tests_properties(services.mariadb.stop PROPERTIES FIXTURES_CLEANUP mariadb TIMEOUT 30)

add_executable(storage_mariadb_test ${CMAKE_CURRENT_LIST_DIR}/mariadb_test.cpp)
target_link_libraries(storage_mariadb_test PRIVATE strata_store_set GTest::gtest GTest::gtest_main rapidcheck_gtest rapidcheck)
target_compile_options(storage_mariadb_test PRIVATE -Wno-maybe-uninitialized)
add_test(NAME storage_mariadb_test COMMAND storage_mariadb_test)
set_tests_properties(storage_mariadb_test PROPERTIES FIXTURES_REQUIRED "mariadb;redis" RESOURCE_LOCK "mariadb;redis"
                     TIMEOUT 300 LABELS services
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})

# strata-bench-stores: the storage figures (tests/bench/store_bench.cpp), against running services.
if(STRATA_BENCH AND NOT STRATA_SANITIZE AND NOT STRATA_FUZZ)
  add_executable(strata-bench-stores ${PROJECT_SOURCE_DIR}/tests/bench/store_bench.cpp)
  target_link_libraries(strata-bench-stores PRIVATE strata_stores_redis strata_stores_mariadb)
endif()

# A player moving between regions (issue 16 item 5; here rather than in tests/server/storage.cmake,
# which another change edits at the same time): two storage services over one MariaDB
# (tests/server/storage_regions_test.cpp), and end to end, two regions made by tools/cluster.sh
# with one bot going from one to the other and back (tools/e2e-xregion.sh).
add_executable(server_storage_regions_test ${PROJECT_SOURCE_DIR}/tests/server/storage_regions_test.cpp)
target_link_libraries(server_storage_regions_test PRIVATE strata_server_storage GTest::gtest GTest::gtest_main)
target_compile_options(server_storage_regions_test PRIVATE -Wno-maybe-uninitialized)
add_test(NAME server_storage_regions_test COMMAND server_storage_regions_test)
set_tests_properties(server_storage_regions_test PROPERTIES FIXTURES_REQUIRED "mariadb;redis"
                     RESOURCE_LOCK "mariadb;redis" TIMEOUT 300 LABELS services
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})
add_test(NAME e2e.xregion COMMAND ${PROJECT_SOURCE_DIR}/tools/e2e-xregion.sh ${CMAKE_BINARY_DIR}/bin 6)
set_tests_properties(e2e.xregion PROPERTIES FIXTURES_REQUIRED "mariadb;redis" RESOURCE_LOCK "mariadb;redis"
                     TIMEOUT 300 RUN_SERIAL TRUE LABELS e2e ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})
