// tests/server/write_snapshot_seeds.cpp — writes seed inputs for fuzz_client_snapshot (a full and a
// delta snapshot from a real scenario) and, given a second directory, chat seeds for
// fuzz_client_messages. Run by hand:
//   write_snapshot_seeds fuzz/corpus/client_snapshot fuzz/corpus/client_messages
#include <cstdio>
#include <string>

#include "schema/client/codec.h"
#include "schema/client/messages.h"
#include "server/aoi.h"
#include "tools/scenario/scenario.h"

namespace {
bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  return std::fclose(f) == 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) return 2;
  using namespace strata;
  if (argc == 3) {
    std::vector<uint8_t> bytes;
    view::encode_chat_send("hello ✓", bytes);
    if (!write(std::string(argv[2]) + "/chat_send.bin", bytes)) return 1;
    view::encode_chat(view::ChatLine{7, 1234, "anyone near the river?"}, bytes);
    if (!write(std::string(argv[2]) + "/chat.bin", bytes)) return 1;
  }
  sim::Simulation sim(scenario::world_for(4, 2, 6));
  scenario::ScenarioConfig config;
  config.players = 12;
  config.join_ramp_ticks = 2;
  scenario::ScenarioGenerator generator(config);
  server::FramePublisher frames(64);
  server::ClientInterest client;
  sim::TickInput input;
  (void)frames.publish(sim.world(), {}, sim.quick_hash());
  for (int t = 0; t < 40; ++t) {
    generator.next(sim.world(), input);
    const auto& effects = sim.step(input);
    auto frame = frames.publish(sim.world(), effects.changed_cells, sim.quick_hash());
    if (t < 20 || sim.world().players.empty()) continue;
    server::AoiParams aoi;
    aoi.radius_cells = 8;
    auto s = server::build_client_snapshot(*frame, client, *frame->viewer(sim::raw(sim.world().players[0].id)), aoi);
    client.acknowledge(s.tick);
    if (t != 20 && t != 39) continue;
    std::vector<uint8_t> wire;
    view::encode_client_snapshot(s, wire);
    const std::string path = std::string(argv[1]) + (t == 20 ? "/full.bin" : "/delta.bin");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 1;
    std::fwrite(wire.data(), 1, wire.size(), f);
    std::fclose(f);
  }
  return 0;
}
