// SPDX-License-Identifier: MIT
//
// A full disk: on a small tmpfs, writes fail with kNoSpace, nothing
// acknowledged is lost, reads keep working, and writes resume once space is
// freed. Needs root (to mount); CI runs as root.
#include <gtest/gtest.h>
#include <mehdb/store.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include "temp_dir.h"

namespace mehdb {
namespace {

// Parameter: the value size. Small values fail inside LMDB's page writes
// with ENOSPC; large ones (overflow pages written in one long run) stop short,
// which LMDB reports as EIO. Both must come out as kNoSpace.
class DiskFull : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=4m") != 0)
      GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }
  testing::TempDir dir_;
  bool mounted_ = false;
};

TEST_P(DiskFull, NoSpaceLosesNothingAndRecovers) {
  const std::size_t value_bytes = GetParam();
  // Ballast we delete later to free space.
  {
    std::ofstream ballast(dir_.Sub("ballast"));
    ballast << std::string(1 << 20, 'b');
  }
  Options o;
  o.map_bytes = 64 << 20;  // the map is larger than the disk: the disk fills first
  o.max_value_bytes = 1 << 20;
  std::map<std::string, std::string> acked;
  Status failure;
  {
    auto store = Store::Open(dir_.Sub("db"), o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 100000; ++i) {
      std::string key = "k" + std::to_string(i), value(value_bytes, static_cast<char>('a' + i % 26));
      auto r = (*store)->Put(key, value);
      if (!r.ok()) {
        failure = r.status();
        break;
      }
      acked[key] = value;
    }
    ASSERT_EQ(failure.code(), Code::kNoSpace) << failure.ToString();
    ASSERT_GT(acked.size() * value_bytes, std::size_t{512} << 10);  // a fair part of the disk

    // Reads work on the full disk, and see every acknowledged write.
    for (const auto& [k, v] : acked) {
      auto got = (*store)->Get(k);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_TRUE(got->has_value()) << k;
      ASSERT_EQ((*got)->data, v);
    }
    EXPECT_EQ(*(*store)->Count(), acked.size());
    // Still full: another write fails the same clean way.
    EXPECT_EQ((*store)->Put("more", std::string(value_bytes, 'x')).status().code(),
              Code::kNoSpace);

    // Free space; the same open store accepts writes again.
    std::filesystem::remove(dir_.Sub("ballast"));
    auto again = (*store)->Put("after", "space freed");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
  }
  // And everything is there after a reopen.
  auto store = Store::Open(dir_.Sub("db"), o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->Count(), acked.size() + 1);
  EXPECT_EQ((*(*store)->Get("after"))->data, "space freed");
  for (const auto& [k, v] : acked) ASSERT_EQ((*(*store)->Get(k))->data, v);
}

INSTANTIATE_TEST_SUITE_P(ValueSizes, DiskFull, ::testing::Values(1000, 256 << 10),
                         [](const auto& info) { return "value_" + std::to_string(info.param); });

}  // namespace
}  // namespace mehdb
