// tests/bench/bench_main.cpp — strata-bench entry point (Google Benchmark).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
