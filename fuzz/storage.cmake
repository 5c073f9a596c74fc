# fuzz/storage.cmake: decoders of values read back from the stores.
strata_add_fuzzer(NAME storage_codec SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/storage_codec.cpp LIBS strata_stores
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/storage_codec)
