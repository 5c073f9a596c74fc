# tests/bench/schema_bench.cmake — schema/ benchmarks, included from tests/bench/CMakeLists.txt:
# strata-bench-bus-codec, the bus payload codec's bytes per write and encode/decode throughput
# (issue 15's figures). Its own binary: it links the codec and zstd, nothing of the server.
add_executable(strata-bench-bus-codec bus_codec_bench.cpp)
target_link_libraries(strata-bench-bus-codec PRIVATE strata_schema_bus benchmark::benchmark)
