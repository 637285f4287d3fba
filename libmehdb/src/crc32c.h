// SPDX-License-Identifier: MIT
//
// CRC-32C (Castagnoli), the checksum on every log and snapshot frame. A
// table-driven software version: frames are small and the network, not the
// checksum, bounds replication speed.
#ifndef MEHDB_SRC_CRC32C_H_
#define MEHDB_SRC_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace mehdb::internal {

std::uint32_t Crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_CRC32C_H_
