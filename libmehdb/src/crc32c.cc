// SPDX-License-Identifier: MIT
#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <wmmintrin.h>
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
// x^m mod P in the reflected bit order the CRC uses (bit 31 is x^0).
std::uint32_t XPowModP(std::uint64_t m) {
  std::uint32_t v = 0x80000000u;
  for (std::uint64_t i = 0; i < m; ++i) v = (v & 1) ? (v >> 1) ^ kPolynomial : v >> 1;
  return v;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of one
// per cycle, so one dependent chain runs at a third of the speed the CPU
// can go. Long inputs are cut into three lanes of kLane bytes checksummed
// side by side, then joined: the CRC of A|B|C (raw, without the final
// inversion) is shift(crc(A), |B|+|C|) ^ shift(crc(B), |C|) ^ crc(C), where
// shift(c, n) is c * x^(8n) mod P, one carry-less multiply by a constant
// and one crc32 to reduce it (Intel, "Fast CRC Computation for iSCSI
// Polynomial Using CRC32 Instruction", 2011).
struct LaneShifts {
  std::uint32_t one_lane;   // x^(8*kLane - 33) mod P
  std::uint32_t two_lanes;  // x^(16*kLane - 33) mod P
};

template <std::size_t kLane>
const LaneShifts& ShiftsFor() {
  static const LaneShifts shifts{XPowModP(8 * kLane - 33), XPowModP(16 * kLane - 33)};
  return shifts;
}

__attribute__((target("sse4.2,pclmul"))) inline std::uint64_t Shift(std::uint64_t crc,
                                                                      std::uint32_t k) {
  const __m128i product = _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<long long>(crc)),
                                               _mm_cvtsi32_si128(static_cast<int>(k)), 0);
  return _mm_crc32_u64(0, static_cast<std::uint64_t>(_mm_cvtsi128_si64(product)));
}

__attribute__((target("sse4.2"))) inline std::uint64_t Word(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// Consumes as many 3 * kLane byte stretches of [p, p + n) as there are.
template <std::size_t kLane>
__attribute__((target("sse4.2,pclmul"))) std::uint64_t ThreeLanes(std::uint64_t c, const char*& p,
                                                                   std::size_t& n) {
  const LaneShifts& k = ShiftsFor<kLane>();
  for (; n >= 3 * kLane; p += 3 * kLane, n -= 3 * kLane) {
    std::uint64_t a = c, b = 0, d = 0;
    for (std::size_t i = 0; i < kLane; i += 8) {
      a = _mm_crc32_u64(a, Word(p + i));
      b = _mm_crc32_u64(b, Word(p + kLane + i));
      d = _mm_crc32_u64(d, Word(p + 2 * kLane + i));
    }
    c = Shift(a, k.two_lanes) ^ Shift(b, k.one_lane) ^ d;
  }
  return c;
}

// Compiled for SSE4.2 (and PCLMULQDQ) whatever the build's -march, and
// called only after the run-time check below, so the library still runs on
// older CPUs.
__attribute__((target("sse4.2,pclmul"))) std::uint32_t Crc32cSse42(std::string_view data,
                                                                    std::uint32_t crc) {
  const char* p = data.data();
  std::size_t n = data.size();
  std::uint64_t c = ~crc;
  c = ThreeLanes<256>(c, p, n);
  c = ThreeLanes<64>(c, p, n);
  for (; n >= 8; p += 8, n -= 8) c = _mm_crc32_u64(c, Word(p));
  std::uint32_t c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return ~c32;
}

bool CpuHasSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
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
