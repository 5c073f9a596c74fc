// tests/schema/write_bus_seeds.cpp — writes the seed corpus of fuzz/bus_message.cpp from real
// encodings (run by hand; the seeds are committed):
//   schema_write_bus_seeds <fuzz/corpus dir>
// creates bus_message/ under it: world batches packed and compressed (one a later part), presence,
// health, and a batch of another region (which the fuzzer's context refuses as forged).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schema/bus_codec.h"
#include "tests/schema/bus_payload_gen.h"

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const strata::schema::BusPayload& payload,
           const strata::schema::BusEncodeOptions& options = {}) {
  std::vector<uint8_t> bytes;
  strata::schema::encode_bus_payload(payload, options, bytes);
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc != 2) {
    std::fprintf(stderr, "usage: schema_write_bus_seeds <fuzz/corpus dir>\n");
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "bus_message";
  const sim::RegionId two{2};
  write(dir, "world_3", test::realistic_world_batch(two, 17, 3));
  write(dir, "world_40_packed", test::realistic_world_batch(two, 18, 40), {SIZE_MAX, 1});
  write(dir, "world_300_zstd", test::realistic_world_batch(two, 19, 300));
  schema::BusWorldBatch part = test::realistic_world_batch(two, 20, 5);
  part.part = 2;
  part.parts = 3;
  write(dir, "world_part_2_of_3", part);
  write(dir, "presence", test::realistic_presence(two, 21, 6, 3));
  write(dir, "presence_zstd", test::realistic_presence(two, 22, 200, 50));
  write(dir, "health", test::realistic_health(two, 23, 3));
  write(dir, "world_forged", test::realistic_world_batch(sim::RegionId{3}, 24, 4));
  std::printf("wrote 8 bus payload seeds to %s\n", dir.c_str());
  return 0;
}
