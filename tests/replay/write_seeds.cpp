// tests/replay/write_seeds.cpp — writes seed inputs for the replay fuzzers from a real log:
//   replay_write_seeds <fuzz/corpus dir> <scratch dir>
// replay_record/: tick records and a log header; replay_export_file/: a small export file and a
// desync bundle.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "replay/desync.h"
#include "replay/export_file.h"
#include "replay/frames.h"
#include "tests/replay/log_fixture.h"

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc != 3) return 2;
  const std::filesystem::path root = argv[1];
  const std::string scratch = argv[2];
  std::filesystem::remove_all(scratch);
  replay::LogConfig config;
  config.full_hash_every = 3;
  config.snapshot_every = 6;
  test::record_scenario(scratch + "/a", 5, 4, 8, config);
  test::record_scenario(scratch + "/b", 5, 4, 8, config, [](sim::World& w) {
    if (w.tick != 5) return false;
    w.counters.evictions += 1;
    return true;
  });
  replay::Status status;
  auto a = replay::open_log(scratch + "/a", status);
  auto b = replay::open_log(scratch + "/b", status);
  if (!a || !b) return 1;
  write(root / "replay_record", "header", schema::encode_log_header(a->header()));
  for (uint64_t t : {1, 3, 6}) {
    schema::TickRecord record;
    if (!a->read_tick(t, record).ok()) return 1;
    std::vector<uint8_t> bytes;
    schema::encode_tick_record(record, bytes);
    write(root / "replay_record", "tick_" + std::to_string(t), bytes);
  }
  if (!replay::export_log(*a, scratch + "/a.strata").ok()) return 1;
  std::vector<uint8_t> bytes;
  if (!replay::read_file(scratch + "/a.strata", bytes).ok()) return 1;
  write(root / "replay_export_file", "log_8_ticks", bytes);
  replay::DesyncBundle bundle;
  if (!replay::collect(*a, *b, 5, bundle).ok() || !replay::write_bundle(scratch + "/bundle", bundle).ok()) return 1;
  if (!replay::read_file(scratch + "/bundle", bytes).ok()) return 1;
  write(root / "replay_export_file", "bundle_tick_5", bytes);
  std::printf("wrote replay seeds\n");
  return 0;
}
