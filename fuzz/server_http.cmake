# fuzz/server_http.cmake: the HTTP server's parse+route step (Beast request parser under the server's
# limits, then the route table) on arbitrary bytes, without sockets. Included from fuzz/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/../server/http_metrics.cmake)  # strata_server_http (guarded)
strata_add_fuzzer(NAME fuzz_server_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_http.cpp LIBS strata_server_http
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/server_http)
