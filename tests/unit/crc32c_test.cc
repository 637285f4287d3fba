// SPDX-License-Identifier: MIT
//
// CRC-32C: the CPU instruction and the portable table agree, on the
// standard check value and on every length and alignment around the 8-byte
// steps, including when extended in pieces.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "crc32c.h"

namespace mehdb::internal {
namespace {

TEST(Crc32c, CheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32c, HardwareMatchesTheTable) {
  RecordProperty("hardware", Crc32cIsHardware() ? "yes" : "no");
  std::mt19937 rng(7);
  std::string buf(5000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 191, 192, 193, 200, 767, 768,
                            769, 960, 1000, 1024, 1036, 2000, 4096}) {
      const std::string_view piece(buf.data() + start, len);
      ASSERT_EQ(Crc32c(piece), Crc32cPortable(piece)) << start << " " << len;
      // Extending: crc(a || b) == crc(b, crc(a)).
      const std::size_t cut = len / 3;
      ASSERT_EQ(Crc32c(piece.substr(cut), Crc32c(piece.substr(0, cut))), Crc32c(piece));
    }
  }
}

TEST(Crc32c, RandomLengthsMatchTheTable) {
  std::mt19937 rng(11);
  std::string buf(20000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const std::size_t start = rng() % 64, len = rng() % (buf.size() - 64);
    const std::uint32_t seed = static_cast<std::uint32_t>(rng());
    const std::string_view piece(buf.data() + start, len);
    ASSERT_EQ(Crc32c(piece, seed), Crc32cPortable(piece, seed)) << start << " " << len;
  }
}

}  // namespace
}  // namespace mehdb::internal
