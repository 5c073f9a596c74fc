# server/bus.cmake: the region event bus (server/bus.h): the port and its text forms, the in-memory
# JetStream twin (strata_server_bus), and the implementation over nats.c 3.4.1 (strata_server_nats,
# pkg-config libnats: Debian's cnats CMake package is broken). Included from the tests' and the
# fuzzers' fragments until the node is wired to it (the guard makes the first include define it).
include_guard(GLOBAL)
add_library(strata_server_bus STATIC ${CMAKE_CURRENT_LIST_DIR}/bus.cpp ${CMAKE_CURRENT_LIST_DIR}/bus_outbox.cpp
            ${CMAKE_CURRENT_LIST_DIR}/memory_bus.cpp)
target_link_libraries(strata_server_bus PUBLIC strata_sim)
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET GLOBAL libnats)
add_library(strata_server_nats STATIC ${CMAKE_CURRENT_LIST_DIR}/nats_bus.cpp)
target_link_libraries(strata_server_nats PUBLIC strata_server_bus PRIVATE PkgConfig::NATS Threads::Threads)
