// SPDX-License-Identifier: MIT
//
// The change log: appending a record in the same transaction as its data,
// trimming the tail to the retention bounds, and reading records for a
// follower. Records are stored framed (with their checksum), so a read is a
// copy of stored bytes.
#include <cstring>

#include "codec.h"
#include "log_codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::LmdbStatus;
using internal::ToVal;
using internal::ToView;

namespace {

// A trim removes at most this many records per commit beyond the number
// the commit appended, so one commit never does unbounded work and the log
// still converges to its bounds (the applier's commits append thousands).
constexpr std::size_t kMaxTrimPerCommit = 1024;

}  // namespace

int Store::Impl::AppendLog(MDB_txn* txn, Seq seq, std::string_view frame,
                           std::uint64_t& log_bytes) {
  const std::string key = internal::SeqKey(seq);
  MDB_val k = ToVal(key), d = ToVal(frame);
  // Keys are big-endian seqs, always past the last one: MDB_APPEND skips the
  // tree search and packs pages full.
  if (int rc = mdb_put(txn, log, &k, &d, MDB_APPEND)) return rc;
  log_bytes += frame.size();
  return MDB_SUCCESS;
}

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

int Store::Impl::TrimLog(MDB_txn* txn, Seq last, std::size_t appended, std::uint64_t& log_bytes,
                         Seq& first) {
  MDB_stat st;
  if (int rc = mdb_stat(txn, log, &st)) return rc;
  std::uint64_t entries = st.ms_entries;
  if (entries <= options.log_retain_entries && log_bytes <= options.log_retain_bytes) {
    first = 0;  // unchanged: the caller keeps the stored first_log_seq
    return MDB_SUCCESS;
  }
  const Seq hold_floor = LogHoldFloor();
  internal::Cursor cursor;
  if (int rc = cursor.Open(txn, log)) return rc;
  MDB_val k, d;
  int rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST);
  // Over the byte cap a record goes regardless of holds; over the entry
  // bound only if no hold protects it (holds protect records after their
  // seq, so a record at or below the floor may go).
  auto trimmable = [&] {
    if (log_bytes > options.log_retain_bytes) return true;
    if (entries <= options.log_retain_entries) return false;
    return k.mv_size == 8 && internal::LoadU64(static_cast<const char*>(k.mv_data)) <= hold_floor;
  };
  for (std::size_t trimmed = 0;
       rc == MDB_SUCCESS && entries > 1 && trimmed < appended + kMaxTrimPerCommit && trimmable();
       ++trimmed) {
    log_bytes -= std::min<std::uint64_t>(log_bytes, d.mv_size);
    if (int del = mdb_cursor_del(cursor.get(), 0)) return del;
    --entries;
    rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  first = (entries > 0 && rc == MDB_SUCCESS && k.mv_size == 8)
              ? internal::LoadU64(static_cast<const char*>(k.mv_data))
              : last + 1;
  return MDB_SUCCESS;
}

Result<LogChunk> Store::ReadLog(Seq after, std::size_t max_bytes) const {
  // Nothing past the published last seq goes out: a group's records enter
  // memory (and may reach LMDB) just before LastSeq() moves past them, and
  // a follower handed one early would then be ahead of this store's
  // LastSeq() (refused as "follower ahead"). Read first: every record up
  // to it is in memory or LMDB by now.
  const Seq published = impl_->last_seq.load(std::memory_order_acquire);
  // Records acknowledged but not yet applied come from memory, so followers
  // are not held back by the applier. Copied before the read txn starts: a
  // record the applier takes out of memory meanwhile is in that txn.
  std::vector<internal::UnappliedRecord> recent;
  Seq newest = 0;
  {
    std::lock_guard lock(impl_->pending_mu);
    const auto& u = impl_->unapplied;
    if (!u.empty()) {
      newest = std::min(u.back().seq, published);
      std::size_t bytes = 0;
      for (std::size_t i = after + 1 > u.front().seq ? after + 1 - u.front().seq : 0;
           i < u.size() && u[i].seq <= published; ++i) {
        if (!recent.empty() && bytes + u[i].frame.size() > max_bytes) break;
        bytes += u[i].frame.size();
        recent.push_back(u[i]);
      }
    }
  }
  auto txn = impl_->BeginRead();
  if (!txn.ok()) return txn.status();
  LogChunk chunk;
  {
    MDB_val hk = ToVal(internal::kMetaHistory), hv;
    if (mdb_get(txn->get(), impl_->meta, &hk, &hv) == MDB_SUCCESS &&
        hv.mv_size == chunk.history.bytes.size())
      std::memcpy(chunk.history.bytes.data(), hv.mv_data, hv.mv_size);
  }
  chunk.first_seq = internal::GetMetaU64(txn->get(), impl_->meta, internal::kMetaFirstLogSeq);
  const Seq applied = internal::GetMetaU64(txn->get(), impl_->meta, internal::kMetaLastSeq);
  chunk.last_seq = std::min(std::max(applied, newest), published);
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

  internal::Cursor cursor;
  if (int rc = cursor.Open(txn->get(), impl_->log)) return LmdbStatus(rc, "reading the log");
  const std::string start = internal::SeqKey(after + 1);
  MDB_val k = ToVal(start), d;
  int rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_SET_KEY);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT)) {
    // Frames carry their own checksum (the follower checks it); the bounds
    // keep a damaged size from reading past the file.
    if (k.mv_size != 8 || !impl_->bounds.Contains(d.mv_data, d.mv_size))
      return Status(Code::kDataLoss, "a log record lies outside the data file: " +
                                         impl_->bounds.file() + " is damaged");
    const Seq seq = internal::LoadU64(static_cast<const char*>(k.mv_data));
    if (seq > published) break;
    if (seq != chunk.to + 1)
      return Status(Code::kDataLoss, "the log has a gap before seq " + std::to_string(seq));
    if (!chunk.frames.empty() && chunk.frames.size() + d.mv_size > max_bytes) break;
    chunk.frames.append(ToView(d));
    chunk.to = seq;
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return LmdbStatus(rc, "reading the log");
  for (const internal::UnappliedRecord& r : recent) {
    if (r.seq <= chunk.to) continue;  // applied meanwhile, read from LMDB above
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
