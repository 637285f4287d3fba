// SPDX-License-Identifier: MIT
//
// Damages a stopped store's data.mdb the way a bad disk or a careless copy
// would, for the tests that check the store answers kDataLoss instead of
// crashing or lying. Leaf nodes of LMDB 0.9 are laid out as
//   u16 size_lo | u16 size_hi | u16 flags | u16 key_size | key | data
// (little-endian on the hosts we run on), so a key's node is found by its
// key bytes preceded by that header.
#ifndef MEHDB_TESTS_UNIT_LMDB_DAMAGE_H_
#define MEHDB_TESTS_UNIT_LMDB_DAMAGE_H_

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace mehdb::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Offsets of the node headers of `key` whose data is `data_size` bytes
// (every copy: LMDB leaves older copies of a page in free pages).
inline std::vector<std::size_t> FindLeafNodes(const std::string& file, const std::string& key,
                                              std::uint32_t data_size) {
  std::string header(8, '\0');
  header[0] = static_cast<char>(data_size & 0xFF);
  header[1] = static_cast<char>((data_size >> 8) & 0xFF);
  header[2] = static_cast<char>((data_size >> 16) & 0xFF);
  header[3] = static_cast<char>((data_size >> 24) & 0xFF);
  header[6] = static_cast<char>(key.size() & 0xFF);
  header[7] = static_cast<char>((key.size() >> 8) & 0xFF);
  const std::string needle = header + key;
  std::vector<std::size_t> found;
  for (std::size_t at = file.find(needle); at != std::string::npos;
       at = file.find(needle, at + 1))
    found.push_back(at);
  return found;
}

// Sets the size field of every node of `key` (with data of `data_size`
// bytes) to `new_size`; answers how many it changed.
inline int SetValueSize(const std::string& path, const std::string& key, std::uint32_t data_size,
                        std::uint32_t new_size) {
  std::string file = ReadAll(path);
  const auto nodes = FindLeafNodes(file, key, data_size);
  for (std::size_t at : nodes)
    for (int i = 0; i < 4; ++i) file[at + i] = static_cast<char>((new_size >> (8 * i)) & 0xFF);
  WriteAll(path, file);
  return static_cast<int>(nodes.size());
}

// Flips one bit of the data byte at `offset` in every node of `key`.
inline int FlipDataByte(const std::string& path, const std::string& key, std::uint32_t data_size,
                        std::size_t offset) {
  std::string file = ReadAll(path);
  const auto nodes = FindLeafNodes(file, key, data_size);
  for (std::size_t at : nodes) file[at + 8 + key.size() + offset] ^= 0x10;
  WriteAll(path, file);
  return static_cast<int>(nodes.size());
}

}  // namespace mehdb::testing

#endif  // MEHDB_TESTS_UNIT_LMDB_DAMAGE_H_
