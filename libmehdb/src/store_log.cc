// SPDX-License-Identifier: MIT
//
// The change log followers and watchers read: the write-ahead log's
// retained records (wal.h), the newest straight from memory. Records are
// stored framed (with their checksum), so a read is a copy of stored bytes.
#include <algorithm>
#include <string>

#include "store_impl.h"

namespace mehdb {

Seq Store::Impl::LogHoldFloor() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(holds_mu);
  Seq floor = UINT64_MAX;
  for (auto it = holds.begin(); it != holds.end();) {
    if (it->until <= now) {
      it = holds.erase(it);
      continue;
    }
    floor = std::min(floor, it->seq);
    ++it;
  }
  return floor;
}

Result<LogChunk> Store::ReadLog(Seq after, std::size_t max_bytes) const {
  // Nothing past the published last seq goes out: a group's records enter
  // the log and memory just before LastSeq() moves past them, and a
  // follower handed one early would then be ahead of this store's
  // LastSeq() (refused as "follower ahead"). Read first: every record up
  // to it is in the log by now.
  const Seq published = impl_->last_seq.load(std::memory_order_acquire);
  // Records not yet applied come from memory (no file read for the newest,
  // which is what a follower keeping up asks for).
  std::vector<internal::UnappliedRecord> recent;
  {
    std::lock_guard lock(impl_->pending_mu);
    const auto& u = impl_->unapplied;
    if (!u.empty()) {
      std::size_t bytes = 0;
      for (std::size_t i = after + 1 > u.front().seq ? after + 1 - u.front().seq : 0;
           i < u.size() && u[i].seq <= published; ++i) {
        if (!recent.empty() && bytes + u[i].frame.size() > max_bytes) break;
        bytes += u[i].frame.size();
        recent.push_back(u[i]);
      }
    }
  }
  const internal::Wal::Retained retained = impl_->wal->Info();
  LogChunk chunk;
  chunk.history = impl_->CurrentHistory();
  chunk.first_seq = std::min(retained.first, published + 1);
  chunk.last_seq = published;
  chunk.from = after + 1;
  chunk.to = after;
  if (after > chunk.last_seq)
    return Status(Code::kOutOfRange, "position " + std::to_string(after) +
                                         " is past the last seq " +
                                         std::to_string(chunk.last_seq));
  if (after + 1 < chunk.first_seq)
    return Status(Code::kOutOfRange, "records after " + std::to_string(after) +
                                         " were trimmed; the oldest retained is " +
                                         std::to_string(chunk.first_seq));
  if (after == chunk.last_seq) return chunk;
  // Older records from the log's files, up to the first one in memory.
  const Seq file_upto = recent.empty() ? published : std::min(published, recent.front().seq - 1);
  if (after < file_upto) {
    Status s = impl_->wal->Read(after + 1, file_upto, max_bytes, chunk.frames, chunk.to);
    if (!s.ok()) {
      if (s.code() == Code::kOutOfRange && after + 1 < impl_->wal->Info().first)
        return Status(Code::kOutOfRange, "records after " + std::to_string(after) +
                                             " were trimmed while being read");
      if (s.code() == Code::kOutOfRange)
        return Status(Code::kDataLoss, "log record " + std::to_string(after + 1) + " is missing");
      return s;
    }
    if (chunk.to < file_upto) return chunk;  // the byte budget is spent
  }
  for (const internal::UnappliedRecord& r : recent) {
    if (r.seq <= chunk.to) continue;
    if (r.seq != chunk.to + 1 || (!chunk.frames.empty() && chunk.frames.size() + r.frame.size() > max_bytes))
      break;
    chunk.frames.append(r.frame);
    chunk.to = r.seq;
  }
  if (chunk.to == after)
    return Status(Code::kDataLoss, "log record " + std::to_string(after + 1) + " is missing");
  return chunk;
}

}  // namespace mehdb
