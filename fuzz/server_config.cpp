// fuzz/server_config.cpp — any bytes as a YAML config file (and, split at the first NUL, as an
// environment value for every key): errors are values, never crashes or unbounded work.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t nul = text.find('\0');
  const std::string yaml = text.substr(0, nul);
  std::map<std::string, std::string> env;
  if (nul != std::string::npos) {
    env["STRATA_WORLD_SEED"] = text.substr(nul + 1);
    env["STRATA_AUTH_MODE"] = text.substr(nul + 1);
  }
  strata::server::ServerConfig config;
  auto errors = strata::server::load_config(config, yaml, "fuzz.yaml", env);
  auto more = strata::server::validate_config(config);
  return static_cast<int>((errors.size() + more.size()) & 0);
}
