// SPDX-License-Identifier: MIT
#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define MEHDB_CRC32C_X86 1
#endif

namespace mehdb::internal {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78;  // reflected Castagnoli

constexpr std::array<std::uint32_t, 256> MakeTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto kTable = MakeTable();

#ifdef MEHDB_CRC32C_X86
// Compiled for SSE4.2 whatever the build's -march, and called only after
// the run-time check below, so the library still runs on older CPUs.
__attribute__((target("sse4.2"))) std::uint32_t Crc32cSse42(std::string_view data,
                                                             std::uint32_t crc) {
  const char* p = data.data();
  std::size_t n = data.size();
  std::uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    c = _mm_crc32_u64(c, word);
  }
  std::uint32_t c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return ~c32;
}

bool CpuHasSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

using CrcFn = std::uint32_t (*)(std::string_view, std::uint32_t);

CrcFn Pick() {
#ifdef MEHDB_CRC32C_X86
  if (CpuHasSse42()) return &Crc32cSse42;
#endif
  return &Crc32cPortable;
}

// Chosen on first use (a function-local static, so a checksum computed by
// another file's static initialiser cannot see it unset).
CrcFn Chosen() {
  static const CrcFn fn = Pick();
  return fn;
}

}  // namespace

std::uint32_t Crc32cPortable(std::string_view data, std::uint32_t crc) {
  crc = ~crc;
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t Crc32c(std::string_view data, std::uint32_t crc) { return Chosen()(data, crc); }

bool Crc32cIsHardware() { return Chosen() != &Crc32cPortable; }

}  // namespace mehdb::internal
