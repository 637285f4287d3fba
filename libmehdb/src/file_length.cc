// SPDX-License-Identifier: MIT
#include "file_length.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace mehdb::internal {
namespace {

// LMDB 0.9 (64-bit) page and meta layout, as in its mdb.c.
constexpr std::size_t kPageHeader = 16;  // pgno u64, pad u16, flags u16, lower/upper u16 | pages u32
constexpr std::uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04;
constexpr std::uint16_t kBigData = 0x01;  // node flag: the value is on overflow pages
constexpr std::size_t kMetaMagic = kPageHeader;                // u32 0xBEEFC0DE
constexpr std::size_t kMetaFreeRoot = kPageHeader + 24 + 40;   // mm_dbs[FREE_DBI].md_root
constexpr std::size_t kMetaFreeDepth = kPageHeader + 24 + 6;   // mm_dbs[FREE_DBI].md_depth
constexpr std::size_t kMetaTxnId = kPageHeader + 24 + 96 + 8;  // mm_txnid
constexpr std::uint64_t kInvalidPage = ~std::uint64_t{0};
constexpr int kMaxDepth = 32;

template <typename T>
T Load(const std::string& page, std::size_t at) {
  T v;
  std::memcpy(&v, page.data() + at, sizeof v);
  return v;
}

class FreeListReader {
 public:
  FreeListReader(int fd, std::uint64_t psize, std::uint64_t file_pages)
      : fd_(fd), psize_(psize), file_pages_(file_pages) {}

  // Adds the pages the free list holds to `free`; false if it cannot be
  // read whole (a page of it missing or malformed).
  bool Walk(std::uint64_t root, std::set<std::uint64_t>& free) { return Visit(root, 0, free); }

 private:
  bool Read(std::uint64_t pgno, std::uint64_t count, std::string& out) {
    if (pgno >= file_pages_ || count > file_pages_ - pgno) return false;
    out.resize(count * psize_);
    return ::pread(fd_, out.data(), out.size(), static_cast<off_t>(pgno * psize_)) ==
           static_cast<ssize_t>(out.size());
  }

  bool Visit(std::uint64_t pgno, int depth, std::set<std::uint64_t>& free) {
    if (depth > kMaxDepth) return false;
    std::string page;
    if (!Read(pgno, 1, page) || Load<std::uint64_t>(page, 0) != pgno) return false;
    const std::uint16_t flags = Load<std::uint16_t>(page, 10);
    const std::uint16_t lower = Load<std::uint16_t>(page, 12);
    if (lower < kPageHeader || lower > psize_) return false;
    const std::size_t keys = (lower - kPageHeader) / 2;
    for (std::size_t i = 0; i < keys; ++i) {
      const std::size_t node = Load<std::uint16_t>(page, kPageHeader + 2 * i);
      if (node + 8 > psize_) return false;
      const std::uint16_t lo = Load<std::uint16_t>(page, node);
      const std::uint16_t hi = Load<std::uint16_t>(page, node + 2);
      const std::uint16_t node_flags = Load<std::uint16_t>(page, node + 4);
      const std::uint16_t ksize = Load<std::uint16_t>(page, node + 6);
      if (flags & kBranch) {
        const std::uint64_t child = lo | std::uint64_t{hi} << 16 | std::uint64_t{node_flags} << 32;
        if (!Visit(child, depth + 1, free)) return false;
        continue;
      }
      if (!(flags & kLeaf)) return false;
      const std::uint64_t size = lo | std::uint64_t{hi} << 16;
      const std::size_t data = node + 8 + ksize;
      std::string idl;
      if (node_flags & kBigData) {
        if (data + 8 > psize_) return false;
        const std::uint64_t first = Load<std::uint64_t>(page, data);
        std::string head;
        if (!Read(first, 1, head) || !(Load<std::uint16_t>(head, 10) & kOverflow)) return false;
        const std::uint32_t pages = Load<std::uint32_t>(head, 12);
        if (pages == 0 || !Read(first, pages, idl) || size > idl.size() - kPageHeader)
          return false;
        idl = idl.substr(kPageHeader, size);
      } else {
        if (data + size > psize_) return false;
        idl = page.substr(data, size);
      }
      // An IDL: u64 count, then that many page numbers.
      if (idl.size() < 8) return false;
      const std::uint64_t n = Load<std::uint64_t>(idl, 0);
      if (n > (idl.size() - 8) / 8) return false;
      for (std::uint64_t j = 0; j < n; ++j) free.insert(Load<std::uint64_t>(idl, 8 + 8 * j));
    }
    return true;
  }

  int fd_;
  std::uint64_t psize_;
  std::uint64_t file_pages_;
};

}  // namespace

Status CheckFileLength(MDB_env* env, const std::string& data_file) {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  mdb_filehandle_t fd;
  mdb_env_get_fd(env, &fd);
  struct stat file;
  if (::fstat(fd, &file) != 0) return Status(Code::kInternal, "cannot stat " + data_file, errno);
  const std::uint64_t psize = st.ms_psize;
  const std::uint64_t pages = std::uint64_t{info.me_last_pgno} + 1;
  const std::uint64_t file_pages = static_cast<std::uint64_t>(file.st_size) / psize;
  if (file_pages >= pages) return Status::Ok();

  auto cut = [&](const std::string& detail) {
    return Status(Code::kDataLoss, data_file + " is " + std::to_string(file.st_size) +
                                       " bytes but its meta page says the store uses " +
                                       std::to_string(pages * psize) + detail +
                                       ": the file was cut short (truncated or copied in part)");
  };
  // The meta page LMDB chose: the one with the larger transaction id.
  std::string meta[2];
  for (int i = 0; i < 2; ++i) {
    meta[i].resize(psize);
    if (::pread(fd, meta[i].data(), psize, static_cast<off_t>(i * psize)) !=
            static_cast<ssize_t>(psize) ||
        Load<std::uint32_t>(meta[i], kMetaMagic) != 0xBEEFC0DE)
      return cut(" and a meta page is unreadable");
  }
  const std::string& chosen =
      Load<std::uint64_t>(meta[0], kMetaTxnId) < Load<std::uint64_t>(meta[1], kMetaTxnId) ? meta[1]
                                                                                           : meta[0];
  std::set<std::uint64_t> free;
  const std::uint64_t root = Load<std::uint64_t>(chosen, kMetaFreeRoot);
  if (root != kInvalidPage && Load<std::uint16_t>(chosen, kMetaFreeDepth) != 0) {
    FreeListReader reader(fd, psize, file_pages);
    if (!reader.Walk(root, free)) return cut(" and its free list cannot be read");
  }
  for (std::uint64_t p = file_pages; p < pages; ++p)
    if (free.count(p) == 0)
      return cut(" (page " + std::to_string(p) + ", in use, is missing)");
  return Status::Ok();
}

}  // namespace mehdb::internal
