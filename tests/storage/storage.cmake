# tests/storage/: the store ports. The conformance suites (conformance.h) run over every store: here
# the twin and RocksDB (no service needed); redis_test and mariadb_test run them against real
# servers that CTest fixtures start once per run (tools/service-redis.sh, tools/service-mariadb.sh).
strata_add_test(NAME storage_ports_test
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/conformance_local_test.cpp ${CMAKE_CURRENT_LIST_DIR}/async_port_test.cpp
                LIBS strata_stores TIMEOUT 300)
