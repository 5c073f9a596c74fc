# tests/server/storage.cmake: the storage service (server/storage_service.h). The unit test runs over
# the embedded stores (no service; also under ASan); the services test runs against the redis-server
# and mariadbd the CTest fixtures start (tests/storage/storage.cmake), stopping and stalling them.
strata_add_test(NAME server_storage_test
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/storage_service_test.cpp ${CMAKE_CURRENT_LIST_DIR}/storage_runtime_test.cpp
                        ${CMAKE_CURRENT_LIST_DIR}/storage_persist_test.cpp
                LIBS strata_server_storage strata_server_runtime TIMEOUT 300)
target_compile_definitions(server_storage_test PRIVATE STRATA_PROMTOOL="${STRATA_PROMTOOL}")

# Not in STRATA_UNIT_TEST_BINARIES (the sanitizer run has no service fixtures): a plain executable.
add_executable(server_storage_services_test ${CMAKE_CURRENT_LIST_DIR}/storage_services_test.cpp)
target_link_libraries(server_storage_services_test PRIVATE strata_server_storage GTest::gtest GTest::gtest_main)
target_compile_options(server_storage_services_test PRIVATE -Wno-maybe-uninitialized)
add_test(NAME server_storage_services_test COMMAND server_storage_services_test)
set_tests_properties(server_storage_services_test PROPERTIES FIXTURES_REQUIRED "mariadb;redis"
                     RESOURCE_LOCK "mariadb;redis" TIMEOUT 300 LABELS services
                     ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})

# End to end with real processes (tools/e2e-storage.sh): the server with Redis and MariaDB, bots
# that stay and bots that leave and come back, all gathering and building; the near route, the
# server SIGKILLed and restarted, a Redis outage seen by /readyz and the metrics, the map reloaded by
# a fresh server; every return carried its leave's state (strata-replay saves over both logs) and
# MariaDB holds every player's last state.
add_test(NAME e2e.storage COMMAND ${PROJECT_SOURCE_DIR}/tools/e2e-storage.sh ${CMAKE_BINARY_DIR}/bin 20 30)
set_tests_properties(e2e.storage PROPERTIES FIXTURES_REQUIRED "mariadb;redis" RESOURCE_LOCK "mariadb;redis"
                     TIMEOUT 240 RUN_SERIAL TRUE LABELS e2e ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})

# Storage outages end to end (tools/e2e-outage.sh): 50 bots (a quarter leaving and coming back)
# while redis-server, then mariadbd, is killed for 8 s each: /readyz degraded then ready, the tick
# running through it, every return carrying its leave's state, and MariaDB at the end holding each
# player's last state as the log says. The issue's run (200 bots, 30 s outages, ~3 minutes):
# STRATA_OUTAGE_FULL=1 ctest -R e2e.storage_outage (or tools/e2e-outage.sh BIN_DIR with services
# of its own). Tick figures are printed, not asserted.
add_test(NAME e2e.storage_outage COMMAND ${PROJECT_SOURCE_DIR}/tools/e2e-outage.sh ${CMAKE_BINARY_DIR}/bin 50 8)
set_tests_properties(e2e.storage_outage PROPERTIES FIXTURES_REQUIRED "mariadb;redis" RESOURCE_LOCK "mariadb;redis"
                     TIMEOUT 420 RUN_SERIAL TRUE LABELS e2e ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})
