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

# End to end with real processes (tools/e2e-storage.sh): the server with Redis and MariaDB, bots,
# the near route, a Redis outage seen by /readyz and the metrics, the map reloaded by a fresh server.
add_test(NAME e2e.storage COMMAND ${PROJECT_SOURCE_DIR}/tools/e2e-storage.sh ${CMAKE_BINARY_DIR}/bin 20 24)
set_tests_properties(e2e.storage PROPERTIES FIXTURES_REQUIRED "mariadb;redis" RESOURCE_LOCK "mariadb;redis"
                     TIMEOUT 180 RUN_SERIAL TRUE LABELS e2e ENVIRONMENT STRATA_SERVICES_DIR=${STRATA_SERVICES_DIR})
