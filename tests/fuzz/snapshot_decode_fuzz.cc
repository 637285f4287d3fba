// SPDX-License-Identifier: MIT
//
// Fuzz target: snapshot stream loading (mehdb::SnapshotLoader), the bytes a
// follower receives when it resynchronises, fed in chunks of fuzzer-chosen
// sizes into a fresh store in a temp dir. Properties: nothing crashes or
// leaks; the outcome does not depend on how the stream is split (checked
// against feeding it whole when the selector's top bit is set); when the
// load succeeds, the store reopens with the header's history, seq and entry
// count; when it fails after loading entries, the store either refuses to
// open (it is marked incomplete) or opens still pristine, so a cut or
// garbled stream never passes for a good copy.
//
// Opening an LMDB environment is the expensive part of an input (megabytes
// of zeroed lists that ASan maps and unmaps every time), and most inputs are
// refused before any entry lands. So a store that is still empty at seq 0
// after a failed load, which is all SnapshotLoader::Begin asks of a store,
// serves the next load too; any other goes through the reopen check and is
// thrown away.
//
// Input: one byte choosing the chunk sizes, then the stream.
#include <mehdb/store.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"

namespace {

mehdb::Options StoreOptions() {
  mehdb::Options o;
  o.durability = mehdb::Durability::kNoSync;
  o.map_bytes = std::uint64_t{1} << 20;
  o.max_map_bytes = std::uint64_t{64} << 20;
  return o;
}

// Chunk sizes from the selector: 0 feeds the stream whole; otherwise sizes
// cycle through a small pseudo-random sequence bounded by 2^(sel % 12), so
// splits land inside magic, frame headers and payloads alike.
std::vector<std::string_view> Split(std::string_view stream,
                                    std::uint8_t selector) {
  std::vector<std::string_view> chunks;
  if (selector == 0) {
    chunks.push_back(stream);
    return chunks;
  }
  const std::uint32_t bound = 1u << (selector % 12);
  std::uint32_t state = selector;
  while (!stream.empty()) {
    state = state * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(
        stream.size(), 1 + ((state >> 16) % bound));
    chunks.push_back(stream.substr(0, n));
    stream.remove_prefix(n);
  }
  return chunks;
}

struct LoadResult {
  bool ok = false;
  mehdb::SnapshotHeader header;
};

// A store to load into: empty and at seq 0, reused while it stays so.
class Target {
 public:
  ~Target() { Discard(); }
  mehdb::Store& store() {
    if (!store_) {
      dir_ = mehdb_fuzz::FreshPath("snapshot");
      auto opened = mehdb::Store::Open(dir_, StoreOptions());
      if (!opened.ok())
        mehdb_fuzz::Fail("opening a fresh store: " +
                         opened.status().ToString());
      store_ = std::move(*opened);
    }
    return *store_;
  }
  // True when a failed load left nothing behind (see the file comment).
  bool Untouched() {
    auto count = store().Count();
    return count.ok() && *count == 0 && store().LastSeq() == 0;
  }
  // Closes the store; its directory stays for a reopen check.
  const std::string& Close() {
    store_.reset();
    return dir_;
  }
  void Discard() {
    store_.reset();
    if (!dir_.empty()) mehdb_fuzz::RemoveTree(dir_);
    dir_.clear();
  }

 private:
  std::unique_ptr<mehdb::Store> store_;
  std::string dir_;
};

LoadResult Load(mehdb::Store& store,
                const std::vector<std::string_view>& chunks) {
  auto loader = mehdb::SnapshotLoader::Begin(store);
  if (!loader.ok())
    mehdb_fuzz::Fail("an empty store refused a loader: " +
                     loader.status().ToString());
  for (std::string_view chunk : chunks) {
    const mehdb::Status fed = (*loader)->Feed(chunk);
    if (!fed.ok()) {
      if (fed.code() != mehdb::Code::kDataLoss)
        mehdb_fuzz::Fail("unexpected Feed error " + fed.ToString());
      return {};
    }
  }
  auto header = (*loader)->Finish();
  if (!header.ok()) {
    if (header.status().code() != mehdb::Code::kDataLoss)
      mehdb_fuzz::Fail("unexpected Finish error " + header.status().ToString());
    return {};
  }
  return {true, *header};
}

// What a loaded (or failed) store looks like when opened again.
void CheckReopened(const std::string& dir, const LoadResult& load) {
  auto store = mehdb::Store::Open(dir, StoreOptions());
  if (!load.ok) {
    if (!store.ok()) {
      if (store.status().code() != mehdb::Code::kDataLoss)
        mehdb_fuzz::Fail("a failed load reopens with " +
                         store.status().ToString());
      return;
    }
    auto count = (*store)->Count();
    if (!count.ok() || *count != 0 || (*store)->LastSeq() != 0)
      mehdb_fuzz::Fail("a failed load left a store that opens with data");
    return;
  }
  if (!store.ok())
    mehdb_fuzz::Fail("a loaded snapshot does not reopen: " +
                     store.status().ToString());
  auto count = (*store)->Count();
  if (!count.ok() || *count != load.header.entries)
    mehdb_fuzz::Fail("the loaded store has another entry count");
  if ((*store)->LastSeq() != load.header.seq)
    mehdb_fuzz::Fail("the loaded store is at another seq");
  if ((*store)->History() != load.header.history)
    mehdb_fuzz::Fail("the loaded store has another history");
  // Every loaded entry reads back.
  mehdb::ScanOptions all;
  std::uint64_t seen = 0;
  const mehdb::Status scanned = (*store)->ForEach(
      all, [&](std::string_view, std::string_view, mehdb::Seq) {
        ++seen;
        return true;
      });
  if (!scanned.ok() || seen != load.header.entries)
    mehdb_fuzz::Fail("the loaded entries do not scan back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  mehdb_fuzz::InputReader input(data, size);
  const std::uint8_t selector = input.Byte();
  const std::string_view stream = input.Rest();

  static Target target;
  const LoadResult split = Load(target.store(), Split(stream, selector));
  if (split.ok || !target.Untouched()) {
    CheckReopened(target.Close(), split);
    target.Discard();
  }

  if (selector & 0x80) {
    const LoadResult whole = Load(target.store(), Split(stream, 0));
    if (whole.ok || !target.Untouched()) target.Discard();
    if (whole.ok != split.ok)
      mehdb_fuzz::Fail("the outcome depends on how the stream is split");
  }
  return 0;
}
