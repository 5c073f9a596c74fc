# tests/server/bus.cmake: the Bus port. The twin alone (unit and rapidcheck properties), included
# from tests/server/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/../../server/bus.cmake)
strata_add_test(NAME server_bus_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/bus_names_test.cpp
                ${CMAKE_CURRENT_LIST_DIR}/bus_memory_test.cpp LIBS strata_server_bus)
