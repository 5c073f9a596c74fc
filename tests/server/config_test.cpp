// tests/server/config_test.cpp — YAML, environment and --set sources, and their error messages.
#include <gtest/gtest.h>

#include "server/config.h"

namespace strata::server {
namespace {

TEST(Config, DefaultsAreValidWithNoFileAtAll) {
  ServerConfig config;
  EXPECT_TRUE(load_config(config, "", "none", {}).empty());
  EXPECT_TRUE(validate_config(config).empty());
}

TEST(Config, YamlThenEnvironmentThenOverrides) {
  ServerConfig config;
  const std::string yaml = "region: 4\nworld:\n  seed: 99\n  chunks_x: 16\nnet:\n  udp_port: 4000\n";
  const auto errors =
      load_config(config, yaml, "strata.yaml", {{"STRATA_WORLD_SEED", "123"}, {"STRATA_HTTP_PORT", "8181"}});
  ASSERT_TRUE(errors.empty()) << errors[0].message;
  EXPECT_EQ(config.region, 4);
  EXPECT_EQ(config.world.seed, 123U);
  EXPECT_EQ(config.world.chunks_x, 16);
  EXPECT_EQ(config.udp_port, 4000);
  EXPECT_EQ(config.http_port, 8181);
  EXPECT_TRUE(apply_override(config, "log.sync=tick").empty());
  EXPECT_EQ(config.log_sync, replay::WalSync::every_tick);
  EXPECT_FALSE(apply_override(config, "log.sync=sometimes").empty());
}

TEST(Config, ErrorsNameTheKeySourceAndLine) {
  ServerConfig config;
  auto errors = load_config(config, "region: 4\nwrold:\n  seed: 1\ntick_rate_hz: fast\n", "strata.yaml",
                            {{"STRATA_NET_UDP_PORT", "70000"}, {"STRATA_NOPE", "1"}});
  ASSERT_EQ(errors.size(), 4U);
  EXPECT_EQ(errors[0].message, "strata.yaml:3: wrold.seed: unknown key");
  EXPECT_EQ(errors[1].message, "strata.yaml:4: tick_rate_hz: expected an unsigned integer, got 'fast'");
  EXPECT_EQ(errors[2].message, "environment STRATA_NET_UDP_PORT: value 70000 out of range [0, 65535]");
  EXPECT_EQ(errors[3].message, "environment STRATA_NOPE: unknown key");
  errors = load_config(config, "region: [1, 2\n", "bad.yaml", {});
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].message.find("bad.yaml:"), std::string::npos);
  EXPECT_NE(errors[0].message.find("not valid YAML"), std::string::npos);
  EXPECT_EQ(apply_override(config, "nope=1")[0].message, "--set nope: unknown key");
}

TEST(Config, CrossFieldChecks) {
  ServerConfig config;
  config.http_port = config.metrics_port;
  config.udp_port = config.tcp_port;  // fine: different protocols
  config.auth.mode = "magic";
  const auto errors = validate_config(config);
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_EQ(errors[0].message, "http.port and metrics.port both use port 9100");
}

TEST(Config, EveryKeyIsListedWithItsEnvironmentName) {
  const auto lines = describe_config_keys();
  ASSERT_GT(lines.size(), 20U);
  EXPECT_EQ(lines[2], "world.seed (STRATA_WORLD_SEED): world seed [1]");
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {
TEST(Config, DeepFlowNestingIsRefusedBeforeTheParser) {
  ServerConfig config;
  const auto errors = load_config(config, "region: " + std::string(100000, '['), "deep.yaml", {});
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "deep.yaml: nesting deeper than 16");
}
}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST(Config, RegionMapFromYamlListOrTextWithADefaultOwner) {
  ServerConfig config;
  EXPECT_EQ(config.world.region_map.mode, sim::Ownership::whole) << "no map: this region owns every chunk";
  const std::string yaml =
      "region: 2\nworld:\n  chunks_x: 4\n  chunks_y: 2\n  region_map: [\"0,0,2,2:1\", \"2,0,1,2:2\"]\n"
      "  region_map_default: 3\n";
  auto errors = load_config(config, yaml, "strata.yaml", {});
  ASSERT_TRUE(errors.empty()) << errors[0].message;
  ASSERT_TRUE(validate_config(config).empty());
  const sim::RegionMap& map = config.world.region_map;
  EXPECT_EQ(map.mode, sim::Ownership::by_map);
  EXPECT_EQ(map.fallback, sim::RegionId{3});
  ASSERT_EQ(map.rects.size(), 2U);
  EXPECT_EQ(map.rects[1], (sim::RegionRect{2, 0, 1, 2, sim::RegionId{2}}));
  // The environment and --set take the text form.
  errors = load_config(config, "", "none", {{"STRATA_WORLD_REGION_MAP", "0,0,4,1:1; 0,1,4,1:2"}});
  ASSERT_TRUE(errors.empty()) << errors[0].message;
  EXPECT_EQ(config.world.region_map.rects.size(), 2U);
  ASSERT_TRUE(apply_override(config, "world.region_map=").empty());
  ASSERT_TRUE(apply_override(config, "world.region_map_default=0").empty());
  EXPECT_EQ(config.world.region_map, sim::RegionMap{}) << "back to: this region owns every chunk";
}

TEST(Config, RegionMapErrorsNameTheRectangle) {
  ServerConfig config;
  auto errors = load_config(config, "world:\n  region_map: \"0,0,2:1\"\n", "strata.yaml", {});
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message,
            "strata.yaml:2: world.region_map: expected rectangles X,Y,W,H:REGION (in chunks) separated by spaces, "
            "got '0,0,2:1'");
  errors = load_config(config, "world:\n  region_map: [\"0,0,1,1:0\"]\n", "strata.yaml", {});
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].message.find("out of range"), std::string::npos) << errors[0].message;
  errors = load_config(config, "world:\n  region_map: [[1]]\n", "strata.yaml", {});
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "strata.yaml:2: world.region_map: expected a list of single values");

  config = ServerConfig{};
  ASSERT_TRUE(apply_override(config, "world.region_map=0,0,4,4:1 3,3,2,2:2").empty());
  auto invalid = validate_config(config);
  ASSERT_EQ(invalid.size(), 1U);
  EXPECT_EQ(invalid[0].message,
            "world.region_map: region map rectangles overlap (rectangle 2, 3,3,2,2:2, on a map of 8x8 chunks)");
  ASSERT_TRUE(apply_override(config, "world.region_map=0,0,4,8:1 4,0,5,8:2").empty());
  invalid = validate_config(config);
  ASSERT_EQ(invalid.size(), 1U);
  EXPECT_EQ(invalid[0].message,
            "world.region_map: region map rectangle reaches outside the map (rectangle 2, 4,0,5,8:2, on a map of 8x8 "
            "chunks)");
  // Gaps are fine: they go to the default owner (region 0: nobody).
  ASSERT_TRUE(apply_override(config, "world.region_map=0,0,4,8:1").empty());
  EXPECT_TRUE(validate_config(config).empty());
}

TEST(Config, RegionMapKeysAreListed) {
  const auto lines = describe_config_keys();
  int found = 0;
  for (const std::string& line : lines) {
    if (line.rfind("world.region_map (STRATA_WORLD_REGION_MAP): ", 0) == 0) found += 1;
    if (line.rfind("world.region_map_default (STRATA_WORLD_REGION_MAP_DEFAULT): ", 0) == 0) found += 1;
  }
  EXPECT_EQ(found, 2);
}

}  // namespace
}  // namespace strata::server
