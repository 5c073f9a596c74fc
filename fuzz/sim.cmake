# Fuzzers of sim/: the rules under arbitrary command streams (decoding of commands themselves is
# fuzzed in schema.cmake; the world-state decoder with the snapshot fuzzer).
strata_add_fuzzer(NAME fuzz_sim_step SOURCES ${CMAKE_CURRENT_LIST_DIR}/sim_step.cpp LIBS strata_sim
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/sim_step)
