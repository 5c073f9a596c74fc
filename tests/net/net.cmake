# tests/net/net.cmake: netchannel tests (issue 4), included from tests/CMakeLists.txt.
strata_add_test(NAME net_packet_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/packet_test.cc LIBS strata_net LABELS net)
strata_add_test(NAME net_connection_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/connection_test.cc LIBS strata_net LABELS net)
target_include_directories(net_connection_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../..)
strata_add_test(NAME net_security_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/security_test.cc LIBS strata_net LABELS net)
target_include_directories(net_security_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../..)
strata_add_test(NAME net_soak_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/soak_test.cc LIBS strata_net LABELS net)
target_include_directories(net_soak_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../..)
