# fuzz/net.cmake: libFuzzer targets of the netchannel (issue 4), included from fuzz/CMakeLists.txt.
foreach(target packet connection reassembly handshake token)
  strata_add_fuzzer(NAME fuzz_net_${target} SOURCES ${CMAKE_CURRENT_LIST_DIR}/net_${target}_fuzz.cpp
                    LIBS strata_net CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/net_${target})
endforeach()
# Issue 13: the TCP frame reader (net/tcp_frames.h).
strata_add_fuzzer(NAME fuzz_net_tcp_frames SOURCES ${CMAKE_CURRENT_LIST_DIR}/net_tcp_frames.cpp
                  LIBS strata_net CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/net_tcp_frames)
