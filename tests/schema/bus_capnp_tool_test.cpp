// tests/schema/bus_capnp_tool_test.cpp — issue 15's "independent reader": world batches encoded by
// schema/bus_codec.h, published through server::NatsBus to a real nats-server -js (the CTest
// fixture `nats`), read back through a subscription, and decoded by the `capnp` tool with the
// project's schema alone (no Strata code): a packed body straight, a compressed one after `zstd -d`.
// The decoded text must show the origin, the tick and the cells of the writes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schema/bus_codec.h"
#include "tests/schema/bus_payload_gen.h"
#include "tests/server/bus_nats_harness.h"

namespace strata::schema {
namespace {

namespace fs = std::filesystem;
using server::test::nats_service;
using server::test::now_us;
using server::test::open_bus;
using server::test::poll_until;
using server::test::test_config;

constexpr sim::RegionId one{1};

// Runs `command` through the shell; its stdout, and its exit status in `status`.
std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buffer{};
  while (const size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

void write_file(const fs::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class BusCapnpTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("strata_bus_capnp_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `capnp decode` of a packed BusMessage in `body`, with only the schema files of the repository.
  std::string capnp_decode(const fs::path& body) {
    const std::string src = STRATA_SOURCE_DIR;
    int status = 0;
    const std::string text = run(std::string(STRATA_CAPNP_TOOL) + " decode --packed -I " + src + " " + src +
                                     "/schema/bus.capnp BusMessage < " + body.string() + " 2>&1",
                                 status);
    EXPECT_EQ(status, 0) << text;
    return text;
  }

  fs::path dir_;
};

TEST_F(BusCapnpTool, DecodesWorldBatchesReadFromTheStream) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto bus = open_bus(test_config(service->url, "capnp_tool"));
  ASSERT_TRUE(bus);
  // A small batch stays packed; a large one is compressed.
  const BusWorldBatch small = test::realistic_world_batch(one, 4242, 3, 7);
  const BusWorldBatch large = test::realistic_world_batch(one, 4243, 1000, 8);
  std::vector<uint8_t> small_bytes;
  std::vector<uint8_t> large_bytes;
  encode_bus_payload(small, BusEncodeOptions{}, small_bytes);
  encode_bus_payload(large, BusEncodeOptions{}, large_bytes);
  ASSERT_EQ(small_bytes[0], 0x00);
  ASSERT_EQ(large_bytes[0], 0x01);
  const server::BusSubject subject{one, server::BusChannel::world};
  ASSERT_EQ(bus->publish(subject, {one, small.tick}, small_bytes, now_us()), server::PublishVerdict::accepted);
  ASSERT_EQ(bus->publish(subject, {one, large.tick}, large_bytes, now_us()), server::PublishVerdict::accepted);
  const auto sub = bus->subscribe({one, server::BusChannel::world}, 0, now_us());
  ASSERT_TRUE(sub);
  server::BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const server::BusPoll& p) { return p.deliveries.size() == 2; }))
      << "the two batches were not read back within the deadline";

  // The packed one: the body after the frame byte is what `capnp decode --packed` reads.
  ASSERT_EQ(got.deliveries[0].id, (server::BusMessageId{one, small.tick}));
  ASSERT_EQ(got.deliveries[0].payload, small_bytes);
  const fs::path packed = dir_ / "small.packed";
  write_file(packed, std::span(got.deliveries[0].payload).subspan(1));
  const std::string text = capnp_decode(packed);
  EXPECT_NE(text.find("origin = 1,"), std::string::npos) << text;
  EXPECT_NE(text.find("tick = 4242,"), std::string::npos) << text;
  EXPECT_NE(text.find("parts = 1,"), std::string::npos) << text;
  for (const sim::BlockWrite& w : small.writes) {
    EXPECT_NE(text.find("( cellX = " + std::to_string(w.cell.x) + ",\n        cellY = " + std::to_string(w.cell.y) +
                        ",\n        layer = " + std::string(sim::name(w.layer)) + ",\n        kind = " +
                        std::to_string(w.kind) + ",\n        state = " + std::to_string(w.state) +
                        ",\n        stampHlc = " + std::to_string(w.stamp.hlc) + " )"),
              std::string::npos)
        << text;
  }

  // The compressed one: `zstd -d` of the body, then the same.
  ASSERT_EQ(got.deliveries[1].payload, large_bytes);
  const fs::path zst = dir_ / "large.zst";
  write_file(zst, std::span(got.deliveries[1].payload).subspan(1));
  int status = 0;
  const std::string zstd_out = run(
      std::string(STRATA_ZSTD_TOOL) + " -d -q -f " + zst.string() + " -o " + (dir_ / "large.packed").string() + " 2>&1",
      status);
  ASSERT_EQ(status, 0) << zstd_out;
  const std::string large_text = capnp_decode(dir_ / "large.packed");
  EXPECT_NE(large_text.find("origin = 1,"), std::string::npos);
  EXPECT_NE(large_text.find("tick = 4243,"), std::string::npos);
  for (const size_t i : {size_t{0}, size_t{499}, size_t{999}}) {
    const sim::BlockWrite& w = large.writes[i];
    EXPECT_NE(large_text.find("( cellX = " + std::to_string(w.cell.x) + ",\n        cellY = " +
                              std::to_string(w.cell.y) + ",\n        layer = " + std::string(sim::name(w.layer)) +
                              ",\n        kind = " + std::to_string(w.kind) + ",\n        state = " +
                              std::to_string(w.state) + ",\n        stampHlc = " + std::to_string(w.stamp.hlc) + " )"),
              std::string::npos)
        << "write " << i;
  }
  // One entry per write: the tool saw all 1000.
  size_t writes = 0;
  for (size_t at = large_text.find("cellX = "); at != std::string::npos; at = large_text.find("cellX = ", at + 1)) {
    ++writes;
  }
  EXPECT_EQ(writes, large.writes.size());
}

}  // namespace
}  // namespace strata::schema
