// tests/storage/conformance_local_test.cpp: the conformance suites over the in-memory twin and the
// embedded RocksDB store (and the twin's holds across regions), plus what only RocksDB has: data kept across a reopen.
#include "tests/storage/conformance.h"
#include "tests/storage/local_factories.h"

namespace strata::storage::testing {
namespace {

using LocalFactories = ::testing::Types<MemoryFactory, RocksFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Local, PlayerConformance, LocalFactories);
INSTANTIATE_TYPED_TEST_SUITE_P(Local, MapConformance, LocalFactories);
INSTANTIATE_TYPED_TEST_SUITE_P(Local, PositionConformance, LocalFactories);
INSTANTIATE_TYPED_TEST_SUITE_P(Local, SessionConformance, LocalFactories);
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, HoldsConformance, ::testing::Types<MemoryHoldsFactory>);

TEST(RocksStores, KeepsDurableKindsAcrossAReopenAndDropsPositions) {
  TempDir dir;
  const std::string path = (dir.path() / "stores").string();
  std::string error;
  {
    auto stores = RocksStores::open(path, {}, error);
    ASSERT_TRUE(stores) << error;
    ASSERT_TRUE(save_one<PlayerBackend>(*stores, PlayerRecord{PlayerKey{9}, 3, "kept"}).ok());
    ASSERT_TRUE(save_one<MapBackend>(*stores, MapRecord{MapId{1}, 2, 77, {{1, 2, 1, "chunk"}}}).ok());
    ASSERT_TRUE(save_one<SessionBackend>(*stores, SessionRecord{SessionId{5}, 1, "r", 1, 0, "loc"}).ok());
    PositionBatch batch;
    batch.moved = {{PlayerKey{9}, 1, 1}};
    ASSERT_TRUE(stores->update(std::span(&batch, 1)).ok());
    ASSERT_EQ(stores->near({0, 0, 5}).value.size(), 1U);
  }
  auto stores = RocksStores::open(path, {}, error);
  ASSERT_TRUE(stores) << error;
  EXPECT_EQ(stores->load(PlayerKey{9}).value, (PlayerRecord{PlayerKey{9}, 3, "kept"}));
  EXPECT_EQ(stores->load(MapId{1}).value, (MapRecord{MapId{1}, 2, 77, {{1, 2, 1, "chunk"}}}));
  EXPECT_EQ(stores->load(SessionId{5}).value, (SessionRecord{SessionId{5}, 1, "r", 1, 0, "loc"}));
  const auto positions = stores->near({0, 0, 5});
  ASSERT_TRUE(positions.ok());
  EXPECT_TRUE(positions.value.empty());
}

TEST(RocksStores, RefusesToOpenWhereItCannot) {
  std::string error;
  EXPECT_EQ(RocksStores::open("/proc/strata-cannot-be-here/stores", {}, error), nullptr);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace strata::storage::testing
