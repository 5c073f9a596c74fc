# tests/net/sdk/sdk.cmake: the client SDK's readers of what a server sends (login reply, observer
# world parts) and its bounded login, included from tests/CMakeLists.txt.
strata_add_test(NAME net_sdk_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sdk_test.cpp LIBS strata_client_sdk PkgConfig::SODIUM
                LABELS net)
