// server/world_encoder.cpp — see world_encoder.h.
#include "server/world_encoder.h"

#include <algorithm>

#include "schema/client/messages.h"
#include "schema/codec.h"
#include "server/threads.h"
#include "sim/assert.h"

namespace strata::server {

WorldEncoder::WorldEncoder(bool background) : background_(background) {}

WorldEncoder::~WorldEncoder() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

EncodedWorld WorldEncoder::encode(const sim::World& world) {
  const std::vector<uint8_t> bytes = schema::encode_snapshot(world);
  EncodedWorld out;
  out.tick = world.tick;
  const size_t part = view::observer_part_bytes_max;
  const size_t parts = std::max<size_t>(1, (bytes.size() + part - 1) / part);
  STRATA_ASSERT(parts <= view::observer_parts_max, "a world beyond what an observer accepts");
  out.parts.reserve(parts);
  for (size_t i = 0; i < parts; ++i) {
    const size_t begin = i * part;
    const size_t size = std::min(part, bytes.size() - begin);
    auto message = std::make_shared<std::vector<uint8_t>>();
    view::encode_observer_part(static_cast<uint32_t>(i), static_cast<uint32_t>(parts),
                               std::span(bytes).subspan(begin, size), *message);
    out.bytes += message->size();
    out.parts.push_back(std::move(message));
  }
  return out;
}

void WorldEncoder::start(const sim::World& world) {
  STRATA_ASSERT(!busy_, "one world encoding at a time");
  busy_ = true;
  std::unique_ptr<sim::World> copy = std::move(spare_);
  if (copy) {
    *copy = world;  // copy-assign: reuses the spare's capacity
  } else {
    copy = std::make_unique<sim::World>(world);
  }
  if (!background_) {
    done_ = encode(*copy);
    spare_ = std::move(copy);
    return;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  {
    std::lock_guard lock(mutex_);
    job_ = std::move(copy);
  }
  wake_.notify_all();
}

std::optional<EncodedWorld> WorldEncoder::poll() {
  if (!busy_) return std::nullopt;
  std::optional<EncodedWorld> out;
  if (background_) {
    std::lock_guard lock(mutex_);
    if (!done_) return std::nullopt;
    out = std::move(done_);
    spare_ = std::move(done_world_);
  } else {
    out = std::move(done_);
  }
  done_.reset();
  busy_ = false;
  STRATA_ASSERT(out.has_value(), "a finished job has a result");
  return out;
}

void WorldEncoder::run() {
  name_this_thread("strata-obs-enc");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || job_ != nullptr; });
    if (stop_) return;
    std::unique_ptr<sim::World> world = std::move(job_);
    lock.unlock();
    EncodedWorld encoded = encode(*world);
    lock.lock();
    done_ = std::move(encoded);
    done_world_ = std::move(world);
  }
}

}  // namespace strata::server
