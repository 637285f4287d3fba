// SPDX-License-Identifier: MIT
//
// HistoryId: 128 random bits naming one lineage of data.
#include <mehdb/replication.h>

#include <random>

namespace mehdb {

HistoryId HistoryId::Random() {
  std::random_device rd;  // the kernel's CSPRNG on Linux
  HistoryId id;
  for (std::size_t i = 0; i < id.bytes.size(); i += 4) {
    const std::uint32_t r = rd();
    for (std::size_t k = 0; k < 4; ++k)
      id.bytes[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  if (id.IsZero()) id.bytes[0] = 1;  // zero means "none"
  return id;
}

std::optional<HistoryId> HistoryId::FromHex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  HistoryId id;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return id;
}

std::string HistoryId::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

bool HistoryId::IsZero() const {
  for (std::uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

}  // namespace mehdb
