// tests/server/bus_nats_harness.h — what the tests against a real nats-server share: the
// fixtures' .env files (a missing one is a failure that names the fixture, never a skip), a
// stream and subject namespace per test, and polling with a deadline (a failure, never a timed
// assertion).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/clock.h"
#include "server/nats_bus.h"

namespace strata::server::test {

using namespace std::chrono_literals;

struct NatsService {
  std::string url;
  uint16_t port = 0;
};

// The KEY=value lines of $STRATA_SERVICES_DIR/<name>.env holding `keys`, or a failure that says why.
inline std::optional<std::map<std::string, std::string>> service_env(const std::string& name,
                                                                     std::initializer_list<const char*> keys) {
  const char* dir = std::getenv("STRATA_SERVICES_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "STRATA_SERVICES_DIR is not set: run through ctest (fixture services." << name << ".start)";
    return std::nullopt;
  }
  std::ifstream env(std::string(dir) + "/" + name + ".env");
  std::map<std::string, std::string> values;
  for (std::string line; std::getline(env, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  for (const char* key : keys) {
    if (!values.contains(key)) {
      ADD_FAILURE() << "no " << name << ": " << dir << "/" << name << ".env lacks " << key << " (did services." << name
                    << ".start fail?)";
      return std::nullopt;
    }
  }
  return values;
}

// The fixture's nats-server, or a failure that says why.
inline std::optional<NatsService> nats_service() {
  auto values = service_env("nats", {"STRATA_NATS_URL", "STRATA_NATS_PORT"});
  if (!values) return std::nullopt;
  return NatsService{(*values)["STRATA_NATS_URL"], static_cast<uint16_t>(std::stoul((*values)["STRATA_NATS_PORT"]))};
}

// A stream and namespace of its own for each bus configuration a test makes.
inline NatsBusConfig test_config(const std::string& url, const std::string& name) {
  NatsBusConfig config;
  config.url = url;
  // (Built by append: GCC 12 warns falsely about `"T" + std::to_string(n)`.)
  config.stream_name = std::string("T").append(std::to_string(::getpid())).append("_").append(name);
  config.subject_namespace = std::string("t").append(std::to_string(::getpid())).append("_").append(name);
  config.reconnect_wait_ms = 50;
  config.consumer_heartbeat_ms = 500;
  return config;
}

inline std::unique_ptr<NatsBus> open_bus(const NatsBusConfig& config) {
  std::string error;
  auto bus = NatsBus::open(config, error);
  EXPECT_NE(bus, nullptr) << error;
  return bus;
}

inline std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

inline uint64_t now_us() {
  static const SystemClock clock;
  return clock.monotonic_us();
}

// Polls `buses` until `done(collected)` or `timeout_us` pass.
template <class Done>
inline bool poll_until(std::vector<Bus*> buses, BusPoll& collected, Done&& done, uint64_t timeout_us = 20'000'000) {
  const uint64_t deadline = now_us() + timeout_us;
  while (!done(collected)) {
    if (now_us() > deadline) return false;
    for (Bus* bus : buses) {
      // The runtime's part, here on the same thread: recreate broken or idle consumers.
      if (auto* nats = dynamic_cast<NatsBus*>(bus)) nats->maintain(now_us());
      BusPoll out;
      bus->poll(now_us(), 1000, out);
      collected.acks.insert(collected.acks.end(), out.acks.begin(), out.acks.end());
      collected.deliveries.insert(collected.deliveries.end(), out.deliveries.begin(), out.deliveries.end());
    }
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

inline bool wait_state(std::vector<Bus*> buses, BusState state) {
  const uint64_t deadline = now_us() + 20'000'000;
  for (Bus* bus : buses) {
    while (bus->state() != state) {
      if (now_us() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
  }
  return true;
}

}  // namespace strata::server::test
