// tests/storage/service_env.h: what a test needs to reach a service the CTest fixture started
// (tools/service-<name>.sh wrote <STRATA_SERVICES_DIR>/<name>.env). A test that cannot reach its
// service fails with a message saying so; it never skips.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

namespace strata::storage::testing {

class ServiceEnv {
 public:
  explicit ServiceEnv(const std::string& name) {
    const char* dir = std::getenv("STRATA_SERVICES_DIR");
    if (dir == nullptr) {
      throw std::runtime_error("STRATA_SERVICES_DIR is not set: run this test through ctest (the services." + name +
                               ".start fixture starts " + name + ")");
    }
    dir_ = dir;
    std::ifstream in(dir_ + "/" + name + ".env");
    if (!in) throw std::runtime_error("no " + dir_ + "/" + name + ".env: the " + name + " service did not start");
    std::string line;
    while (std::getline(in, line)) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) values_[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  [[nodiscard]] std::string get(const std::string& key) const {
    auto found = values_.find(key);
    if (found == values_.end()) throw std::runtime_error("service env has no " + key);
    return found->second;
  }
  // Runs the service script: `down` (an outage) or `up` (the same server back on the same port).
  void control(const std::string& ctl_key, const std::string& action) const {
    const std::string command = "'" + get(ctl_key) + "' " + action + " '" + dir_ + "'";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }

 private:
  std::string dir_;
  std::map<std::string, std::string> values_;
};

// Stalls a service (SIGSTOP) for its lifetime; resumes it whatever happens to the test.
class StallGuard {
 public:
  StallGuard(const ServiceEnv& env, std::string ctl_key) : env_(env), ctl_key_(std::move(ctl_key)) {
    env_.control(ctl_key_, "stall");
  }
  ~StallGuard() { resume(); }
  StallGuard(const StallGuard&) = delete;
  StallGuard& operator=(const StallGuard&) = delete;
  void resume() {
    if (stalled_) env_.control(ctl_key_, "resume");
    stalled_ = false;
  }

 private:
  const ServiceEnv& env_;
  std::string ctl_key_;
  bool stalled_ = true;
};

// A name no other test of this run uses (key prefixes, database names).
inline std::string unique_name(const std::string& stem) {
  static std::mt19937_64 names{std::random_device{}()};  // test-only
  return stem + std::to_string(names() % 1000000000000ULL);
}

}  // namespace strata::storage::testing
