# server/http_metrics.cmake: the node's HTTP API server (Boost.Beast, header-only) and its Prometheus
# metrics (prometheus-cpp core; rendered as text and served by the HTTP server, not by civetweb).
# Included from server/CMakeLists.txt, and also from the tests' and fuzzers' fragments that use it
# (the guard makes the first include define the target, whichever folder it comes from).
include_guard(GLOBAL)
find_package(Boost 1.74 REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)

add_library(strata_server_http STATIC ${CMAKE_CURRENT_LIST_DIR}/http.cpp ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp)
target_link_libraries(strata_server_http PUBLIC strata_sim strata_client_view Threads::Threads prometheus-cpp::core
                      PRIVATE Boost::headers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 with -fsanitize reports a false maybe-uninitialized in Beast 1.74's parser (boost::optional
  # content length in basic_parser::do_field); the warning is about Boost's header, not our code.
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/http.cpp PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
endif()
