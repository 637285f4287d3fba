// SPDX-License-Identifier: MIT
//
// CRC-32C (Castagnoli), the checksum on every log and snapshot frame and on
// every stored value. It is computed on each value read, so it uses the
// CPU's crc32 instruction (SSE4.2 and PCLMULQDQ on x86-64, checked at run
// time), three lanes at a time on long inputs, and falls back to a
// byte-at-a-time table elsewhere; all give the same result.
#ifndef MEHDB_SRC_CRC32C_H_
#define MEHDB_SRC_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace mehdb::internal {

// Extends `crc` (the CRC of earlier bytes, 0 for none) over `data`.
std::uint32_t Crc32c(std::string_view data, std::uint32_t crc = 0);

// The portable table version, whatever the CPU offers (tests compare the two).
std::uint32_t Crc32cPortable(std::string_view data, std::uint32_t crc = 0);

// Whether Crc32c uses the CPU instruction on this machine.
bool Crc32cIsHardware();

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_CRC32C_H_
