# tests/server/http.cmake: the HTTP server over real loopback sockets, and the metrics exposition
# checked by Prometheus' own parser (promtool, Debian package `prometheus`). Included from
# tests/server/CMakeLists.txt. A missing promtool does not skip the check: the test fails.
include(${CMAKE_CURRENT_LIST_DIR}/../../server/http_metrics.cmake)  # strata_server_http (guarded)
find_program(STRATA_PROMTOOL promtool)
strata_add_test(NAME server_http_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_test.cpp
                LIBS strata_server_http strata_server_core)
if(STRATA_PROMTOOL)
  target_compile_definitions(server_http_test PRIVATE STRATA_PROMTOOL="${STRATA_PROMTOOL}")
else()
  message(WARNING "promtool not found (Debian package prometheus): server_http_test will fail its metrics check")
  target_compile_definitions(server_http_test PRIVATE STRATA_PROMTOOL="")
endif()
