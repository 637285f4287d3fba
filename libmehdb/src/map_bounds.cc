// SPDX-License-Identifier: MIT
#include "map_bounds.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

namespace mehdb::internal {

Status MapBounds::Locate(int fd, const std::string& file) {
  fd_ = fd;
  file_ = file;
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return Status(Code::kInternal, "cannot stat " + file, errno);
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr)
    return Status(Code::kInternal,
                  "cannot read /proc/self/maps to find the mapping of " + file, errno);
  // "start-end perms offset major:minor inode path"; LMDB maps the whole
  // file once, from offset 0.
  char line[4096];
  std::uintptr_t base = 0;
  std::uint64_t bytes = 0;
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    std::uintptr_t start = 0, end = 0;
    unsigned long long offset = 0, inode = 0;
    unsigned major_dev = 0, minor_dev = 0;
    char perms[8];
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu", &start, &end, perms,
                    &offset, &major_dev, &minor_dev, &inode) != 7)
      continue;
    if (inode != st.st_ino || major_dev != major(st.st_dev) ||
        minor_dev != minor(st.st_dev) || offset != 0)
      continue;
    base = start;
    bytes = end - start;
    break;
  }
  std::fclose(maps);
  if (base == 0)
    return Status(Code::kInternal, "cannot find the memory map of " + file);
  base_.store(base, std::memory_order_relaxed);
  map_bytes_.store(bytes, std::memory_order_relaxed);
  limit_.store(std::min<std::uint64_t>(bytes, static_cast<std::uint64_t>(st.st_size)),
               std::memory_order_relaxed);
  return Status::Ok();
}

bool MapBounds::ContainsAfterRefresh(const void* p, std::size_t n) const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return false;
  const std::uint64_t limit = std::min<std::uint64_t>(
      map_bytes_.load(std::memory_order_relaxed), static_cast<std::uint64_t>(st.st_size));
  // The file only grows while the store is open (LMDB never shrinks it).
  std::uint64_t seen = limit_.load(std::memory_order_relaxed);
  while (seen < limit &&
         !limit_.compare_exchange_weak(seen, limit, std::memory_order_relaxed)) {
  }
  const std::uintptr_t off =
      reinterpret_cast<std::uintptr_t>(p) - base_.load(std::memory_order_relaxed);
  return off <= limit && n <= limit - off;
}

}  // namespace mehdb::internal
