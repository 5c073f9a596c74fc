# fuzz/sdk.cmake: libFuzzer targets of the client SDK (net/sdk), included from fuzz/CMakeLists.txt:
# what a server (or whatever answers in its place) sends a client.
strata_add_fuzzer(NAME fuzz_sdk_login_reply SOURCES ${CMAKE_CURRENT_LIST_DIR}/sdk_login_reply.cpp
                  LIBS strata_client_sdk PkgConfig::SODIUM CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/sdk_login_reply)
strata_add_fuzzer(NAME fuzz_sdk_observer_reassembly SOURCES ${CMAKE_CURRENT_LIST_DIR}/sdk_observer_reassembly.cpp
                  LIBS strata_client_sdk CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/sdk_observer_reassembly)
