// server/auth_tools.h: strata-server's auth command-line tools, each printing to stdout and
// returning the process's exit code: --hash-password (an accounts file line), --new-ticket-key,
// --mint-ticket (server/login.h). main() only parses the flags and calls these.
#pragma once

#include <cstdint>
#include <string>

#include "server/config.h"

namespace strata::server {

// --hash-password NAME: the password from stdin (one line, the newline dropped) -> "NAME <hash>".
[[nodiscard]] int hash_password_tool(const std::string& name);
// --new-ticket-key: a new random ticket key as 64 hex digits.
[[nodiscard]] int new_ticket_key_tool();
// --mint-ticket NAME: a login ticket for NAME signed with auth.ticket_key_file, valid ttl_s seconds.
[[nodiscard]] int mint_ticket_tool(const ServerConfig& config, const std::string& name, uint32_t ttl_s);

}  // namespace strata::server
