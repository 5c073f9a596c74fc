// server/world_encoder.h — an observer's starting world, encoded off the tick thread. The sim thread
// copies the world (copy-assign into a spare whose capacity is kept: a memcpy of the map, ~ms for a
// 35 MB world, the same price the session log pays for its background snapshots) and hands the
// copy over; a worker thread encodes it (schema::encode_snapshot: hundreds of ms for such a world)
// and cuts it into observer_part messages, shared by every observer that starts from it. One job
// at a time; the sim thread polls for the result and never waits.
// With `background` false, start() encodes inline: the deterministic mode tests use.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sim/world.h"

namespace strata::server {

using SharedMessage = std::shared_ptr<const std::vector<uint8_t>>;

struct EncodedWorld {
  uint64_t tick = 0;
  std::vector<SharedMessage> parts;  // view::encode_observer_part messages, in order
  size_t bytes = 0;                  // of all parts
};

class WorldEncoder {
 public:
  explicit WorldEncoder(bool background);
  ~WorldEncoder();
  WorldEncoder(const WorldEncoder&) = delete;
  WorldEncoder& operator=(const WorldEncoder&) = delete;

  // Whether a job is in flight (started and not yet taken by poll()).
  [[nodiscard]] bool busy() const { return busy_; }
  // Starts encoding a copy of `world`. Requires !busy().
  void start(const sim::World& world);
  // The finished job, once (then !busy()); nullopt while it is still encoding or when none runs.
  [[nodiscard]] std::optional<EncodedWorld> poll();

 private:
  static EncodedWorld encode(const sim::World& world);
  void run();

  bool background_;
  bool busy_ = false;                  // sim thread only
  std::unique_ptr<sim::World> spare_;  // sim thread: the copy's buffer when no job holds it
  std::mutex mutex_;
  std::condition_variable wake_;
  std::unique_ptr<sim::World> job_;  // handed to the worker
  std::unique_ptr<sim::World> done_world_;
  std::optional<EncodedWorld> done_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace strata::server
