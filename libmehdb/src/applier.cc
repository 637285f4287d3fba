// SPDX-License-Identifier: MIT
//
// The applier: a background thread that commits acknowledged records from
// the write-ahead log to LMDB, many records per synced transaction (the
// data and the applied seq together), then drops them from the pending
// index and retires log segments it has applied and the retention bounds
// no longer keep. Also Open's replay of the log, and Flush for whole-store copies.
#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "codec.h"
#include "store_impl.h"

namespace mehdb {

namespace {

// Decodes one change-log frame the store wrote itself.
Result<LogRecord> DecodeFrame(const std::string& frame) {
  Result<std::vector<LogRecord>> r = DecodeLogBatch(frame);
  if (!r.ok()) return r.status();
  if (r->size() != 1) return Status(Code::kDataLoss, "a write-ahead log record is malformed");
  return std::move(r->front());
}

// How long the applier waits before retrying a failed commit (a full disk
// may be freed; writers meanwhile feel backpressure, never a lost write).
constexpr auto kRetryPause = std::chrono::milliseconds(100);

}  // namespace

Status Store::Impl::ApplyRecords(std::span<const std::string* const> frames, Seq last,
                                 std::vector<std::string>* keys) {
  std::vector<LogRecord> records;
  records.reserve(frames.size());
  for (const std::string* f : frames) {
    Result<LogRecord> rec = DecodeFrame(*f);
    if (!rec.ok()) return rec.status();
    records.push_back(std::move(*rec));
  }
  Status s = RunWrite(
      [&](MDB_txn* txn) -> int {
        for (const LogRecord& rec : records)
          if (int rc = ApplyOps(txn, rec.ops, rec.seq)) return rc;
        return internal::PutMetaU64(txn, meta, internal::kMetaLastSeq, last);
      },
      "applying the write-ahead log");
  if (s.ok() && keys != nullptr)
    for (LogRecord& rec : records)
      for (LogOp& op : rec.ops) keys->push_back(std::move(op.key));
  return s;
}

void Store::Impl::ApplierLoop() {
  // After a failed commit the applier retries at once with half the batch:
  // a full disk or map may take a smaller transaction (and each commit frees
  // pages for the next); only a single record that fails waits to retry.
  std::uint64_t batch_limit = options.apply_batch_bytes;
  for (;;) {
    std::vector<const std::string*> frames;
    Seq last = 0;
    {
      std::unique_lock lock(pending_mu);
      applier_cv.wait(lock, [&] { return stopping || !unapplied.empty(); });
      if (unapplied.empty()) return;  // stopping, and everything is applied
      // Let a batch gather (Options::apply_delay).
      const std::uint64_t enough = ApplyGatherBytes();
      applier_cv.wait_for(lock, options.apply_delay, [&] {
        return stopping || retry_now || flush_waiters > 0 || unapplied_bytes >= enough;
      });
      ++applier_attempts_begun;
      // References to deque elements stay valid while the leader appends.
      std::uint64_t bytes = 0;
      for (const internal::UnappliedRecord& r : unapplied) {
        if (!frames.empty() && bytes + r.frame.size() > batch_limit) break;
        frames.push_back(&r.frame);
        bytes += r.frame.size();
        last = r.seq;
      }
    }
    // The keys these records touched, to drop their pending entries.
    std::vector<std::string> keys;
    Status s = ApplyRecords(frames, last, &keys);
    std::uint64_t batch_bytes = 0;
    for (const std::string* f : frames) batch_bytes += f->size();
    {
      std::unique_lock lock(pending_mu);
      ++applier_attempts;
      if (!s.ok()) {
        applier_status = s;
        if (frames.size() == 1) applier_stuck_attempt = applier_attempts_begun;
        applied_cv.notify_all();
        if (frames.size() > 1) {
          batch_limit = batch_bytes / 2;
          continue;
        }
        if (stopping) return;  // the log keeps them; the next Open replays
        applier_cv.wait_for(lock, kRetryPause, [&] { return stopping || retry_now; });
        retry_now = false;
        continue;
      }
      applier_status = Status::Ok();
      batch_limit = std::min(options.apply_batch_bytes, std::max(batch_limit, batch_bytes) * 2);
      for (const std::string& k : keys)
        if (auto it = pending.find(k); it != pending.end() && it->second.seq <= last) {
          pending.erase(it);
          PendingSlot(k).fetch_sub(1, std::memory_order_release);
        }
      pending_size.store(pending.size(), std::memory_order_release);
      std::uint64_t bytes = 0;
      for (std::size_t i = 0; i < frames.size(); ++i) {
        bytes += unapplied.front().frame.size();
        unapplied.pop_front();
      }
      unapplied_bytes -= bytes;
    }
    applier_commits.fetch_add(1, std::memory_order_relaxed);
    // Without kSync LMDB's commits are not synced: a segment goes only
    // after the data it holds is on disk.
    if (options.durability != Durability::kSync) mdb_env_sync(env, 1);
    wal->Retire(last);
    {
      // Published after the segments went, so a writer that waited for the
      // applier (Flush) sees the space they gave back.
      std::lock_guard lock(pending_mu);
      applied_seq.store(last, std::memory_order_release);
    }
    applied_cv.notify_all();
  }
}

Status Store::Impl::Flush() const {
  const Seq target = last_seq.load(std::memory_order_acquire);
  std::unique_lock lock(pending_mu);
  ++flush_waiters;  // the applier skips its apply_delay while this waits
  applier_cv.notify_all();
  Status result;
  for (;;) {
    if (applied_seq.load(std::memory_order_acquire) >= target) break;
    if (!applier_status.ok()) {
      result = applier_status;
      break;
    }
    if (stopping) {
      result = Status(Code::kUnavailable, "the store is closing");
      break;
    }
    applied_cv.wait(lock);
  }
  --flush_waiters;
  return result;
}

void Store::Impl::StopApplier() {
  {
    std::lock_guard lock(pending_mu);
    stopping = true;
  }
  applier_cv.notify_all();
  applied_cv.notify_all();
  if (applier.joinable()) applier.join();
}

Status Store::Impl::StartWal() {
  wal = std::make_unique<internal::Wal>(
      dir, options.wal_segment_bytes, options.durability == Durability::kSync,
      internal::Wal::Retention{options.log_retain_entries, options.log_retain_bytes,
                               [this] { return LogHoldFloor(); }});
  std::vector<internal::Wal::Replayed> records;
  const Seq applied = last_seq.load(std::memory_order_acquire);
  if (Status s = wal->Load(applied, CurrentHistory(), records); !s.ok()) return s;
  // Apply what LMDB had not, in bounded batches, before anything reads;
  // halving a batch that fails, as the applier does. A record LMDB has no
  // room for (a full volume or map) does not keep the store shut: it and
  // the records after it stay in the log and in memory, readable, and the
  // applier retries them as it would after a commit that failed while
  // running; writes meanwhile get its error.
  std::uint64_t limit = options.apply_batch_bytes;
  std::size_t done = 0;  // records applied
  Status stuck;
  while (done < records.size()) {
    std::vector<const std::string*> frames;
    std::uint64_t bytes = 0;
    std::size_t end = done;
    for (; end < records.size(); ++end) {
      if (!frames.empty() && bytes + records[end].frame.size() > limit) break;
      frames.push_back(&records[end].frame);
      bytes += records[end].frame.size();
    }
    if (Status s = ApplyRecords(frames, records[end - 1].seq, nullptr); !s.ok()) {
      if (frames.size() == 1) {
        if (s.code() != Code::kNoSpace && s.code() != Code::kResourceExhausted) return s;
        stuck = s;
        break;
      }
      limit = bytes / 2;
      continue;
    }
    done = end;
    limit = std::min(options.apply_batch_bytes, std::max(limit, bytes) * 2);
  }
  if (done > 0) {
    if (int rc = mdb_env_sync(env, 1); rc != MDB_SUCCESS)
      return internal::WriteFailureStatus(rc, "syncing the replayed log", dir);
    applied_seq.store(records[done - 1].seq, std::memory_order_release);
  } else {
    applied_seq.store(applied, std::memory_order_release);
  }
  if (!records.empty()) last_seq.store(records.back().seq, std::memory_order_release);
  const Seq next = last_seq.load(std::memory_order_acquire) + 1;
  if (Status s = wal->Continue(next, CurrentHistory()); !s.ok()) return s;
  wal->Retire(applied_seq.load(std::memory_order_acquire));
  std::int64_t pending_live_delta = 0;
  {
    auto txn = BeginRead();
    if (!txn.ok()) return txn.status();
    MDB_stat st;
    if (int rc = mdb_stat(txn->get(), kv, &st)) return internal::LmdbStatus(rc, "counting keys");
    if (!stuck.ok()) {
      std::lock_guard lock(pending_mu);
      for (std::size_t i = done; i < records.size(); ++i) {
        Result<std::vector<LogRecord>> decoded = DecodeLogBatch(records[i].frame);
        if (!decoded.ok()) return decoded.status();
        for (const LogRecord& rec : *decoded) {
          for (const LogOp& op : rec.ops) SetPending(op.key, internal::PendingOpFor(op, rec.seq));
        }
        unapplied_bytes += records[i].frame.size();
        unapplied.push_back({records[i].seq, std::move(records[i].frame)});
      }
      pending_size.store(pending.size(), std::memory_order_release);
      // Keys present once the pending ops are applied, against LMDB's count.
      for (const auto& [key, op] : pending) {
        MDB_val k = internal::ToVal(key), d;
        const bool in_lmdb = mdb_get(txn->get(), kv, &k, &d) == MDB_SUCCESS;
        pending_live_delta += static_cast<int>(op.stored != nullptr) - static_cast<int>(in_lmdb);
      }
      applier_status = stuck;
    }
    live_keys.store(st.ms_entries + static_cast<std::uint64_t>(pending_live_delta),
                    std::memory_order_release);
  }
  applier = std::thread([this] { ApplierLoop(); });
  // Named here, not by the thread itself, so the name is set once Open
  // returns (top -H, gdb and perf show it).
  ::pthread_setname_np(applier.native_handle(), "mehdb-apply");
  return Status::Ok();
}

}  // namespace mehdb
