// SPDX-License-Identifier: MIT
//
// MapBounds: where LMDB mapped the data file, and how much of the mapping
// the file backs. LMDB hands out values as pointers into that mapping and
// trusts the sizes stored in the pages; a damaged size sends a reader past
// the end of the file (SIGBUS) or into neighbouring pages (a wrong answer).
// Every value is checked against these bounds before anyone reads it.
//
// LMDB does not say where its map is (MDB_envinfo::me_mapaddr is only set
// for MDB_FIXEDMAP), so Locate finds the mapping of the data file's inode in
// /proc/self/maps, once at open and again after each map resize. Both happen
// with no transaction open (the resize gate is closed), so readers never see
// the bounds move under them.
#ifndef MEHDB_SRC_MAP_BOUNDS_H_
#define MEHDB_SRC_MAP_BOUNDS_H_

#include <mehdb/status.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mehdb::internal {

class MapBounds {
 public:
  // `fd` is the data file LMDB has open and mapped; `file` names it in
  // messages.
  Status Locate(int fd, const std::string& file);

  // Whether [p, p + n) lies inside the mapped, file-backed bytes. A miss
  // looks at the file size again first (the file grows as writes commit)
  // before it answers false.
  bool Contains(const void* p, std::size_t n) const {
    const std::uintptr_t off =
        reinterpret_cast<std::uintptr_t>(p) - base_.load(std::memory_order_relaxed);
    const std::uint64_t limit = limit_.load(std::memory_order_relaxed);
    if (off <= limit && n <= limit - off) [[likely]]
      return true;
    return ContainsAfterRefresh(p, n);
  }

  // Whether p points into the mapping at all. In a write transaction LMDB
  // also hands out pointers into its own heap copies of pages it changed.
  bool InMap(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - base_.load(std::memory_order_relaxed) <
           map_bytes_.load(std::memory_order_relaxed);
  }

  const std::string& file() const { return file_; }

 private:
  bool ContainsAfterRefresh(const void* p, std::size_t n) const;

  int fd_ = -1;
  std::string file_;
  std::atomic<std::uintptr_t> base_{0};
  std::atomic<std::uint64_t> map_bytes_{0};
  // min(map_bytes_, file size as last seen): bytes past the file's end are
  // mapped but touching them is SIGBUS.
  mutable std::atomic<std::uint64_t> limit_{0};
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_MAP_BOUNDS_H_
