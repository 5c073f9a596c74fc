# fuzz/auth.cmake: the login's untrusted decoders (issue 13): the POST /api/login body parser, the
# accounts file parser, and the ticket verifier. Included from fuzz/CMakeLists.txt.
strata_add_fuzzer(NAME fuzz_login_body SOURCES ${CMAKE_CURRENT_LIST_DIR}/login_body.cpp LIBS strata_server_auth
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/login_body)
strata_add_fuzzer(NAME fuzz_accounts_file SOURCES ${CMAKE_CURRENT_LIST_DIR}/accounts_file.cpp LIBS strata_server_auth
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/accounts_file)
strata_add_fuzzer(NAME fuzz_login_ticket SOURCES ${CMAKE_CURRENT_LIST_DIR}/login_ticket.cpp LIBS strata_server_auth
                  CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/login_ticket)
