// SPDX-License-Identifier: MIT
//
// The write path. Callers queue their writes; the one at the front becomes
// the group's committer: it takes everything queued behind it, applies it all
// in one LMDB write transaction with one fsync, then wakes each caller with
// its own outcome and sequence number. While it commits, new callers queue up
// and form the next group. This is what makes durable writes from many
// concurrent clients cost one sync per group instead of one per write.
#include <cstring>

#include "codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::PendingWrite;
using internal::ToVal;

namespace {

// Bounds on one group: enough to amortise the sync, small enough that one
// transaction's dirty pages stay modest.
constexpr std::size_t kMaxGroupWrites = 512;
constexpr std::size_t kMaxGroupBytes = std::size_t{64} << 20;

std::size_t BucketFor(std::size_t n) {
  std::size_t bucket = 0;
  for (std::size_t bound = 1; bucket < 8 && n > bound; bound *= 2) ++bucket;
  return bucket;
}

}  // namespace

Status Store::Impl::CheckBatch(const Batch& batch) const {
  for (const LogOp& op : batch.ops()) {
    if (op.key.empty() || op.key.size() > kMaxKeyBytes)
      return Status(Code::kInvalidArgument, "key must be 1..511 bytes");
    if (op.value.size() > options.max_value_bytes)
      return Status(Code::kValueTooLarge,
                    "value of " + std::to_string(op.value.size()) +
                        " bytes exceeds the limit of " +
                        std::to_string(options.max_value_bytes));
  }
  for (const Batch::Condition& c : batch.conditions())
    if (c.key.empty() || c.key.size() > kMaxKeyBytes)
      return Status(Code::kInvalidArgument, "key must be 1..511 bytes");
  return Status::Ok();
}

Result<Seq> Store::Impl::Submit(PendingWrite& w) {
  std::unique_lock lock(queue_mu);
  queue.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || queue.front() == &w; });
  if (w.done) {
    if (!w.status.ok()) return w.status;
    return w.seq;
  }

  // This caller leads the next group.
  std::vector<PendingWrite*> group;
  std::size_t bytes = 0;
  for (PendingWrite* p : queue) {
    if (!group.empty() &&
        (group.size() == kMaxGroupWrites || bytes + p->bytes > kMaxGroupBytes))
      break;
    group.push_back(p);
    bytes += p->bytes;
  }
  lock.unlock();
  CommitGroup(group);
  lock.lock();

  for (std::size_t i = 0; i < group.size(); ++i) queue.pop_front();
  // Wake the next group's leader first: its commit (and fsync) is what the
  // writers queued behind it wait for, so it should not queue for the mutex
  // behind the writers just finished. Notifying under the mutex is required:
  // a woken writer returns and destroys its PendingWrite (and cv) at once.
  if (!queue.empty()) queue.front()->cv.notify_one();
  for (PendingWrite* p : group) {
    if (p != &w) {
      p->done = true;
      p->cv.notify_one();
    }
  }
  if (!w.status.ok()) return w.status;
  return w.seq;
}

int Store::Impl::ApplyOps(MDB_txn* txn, std::span<const LogOp> ops, Seq version) {
  for (const LogOp& op : ops) {
    MDB_val k = ToVal(op.key);
    if (op.kind == LogOp::Kind::kErase) {
      int rc = mdb_del(txn, kv, &k, nullptr);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
      continue;
    }
    // MDB_RESERVE lets us write header and bytes straight into the page.
    MDB_val d{internal::kValueHeaderBytes + op.value.size(), nullptr};
    if (int rc = mdb_put(txn, kv, &k, &d, MDB_RESERVE); rc != MDB_SUCCESS) return rc;
    internal::WriteStoredValue(static_cast<char*>(d.mv_data), op.key, version, op.value);
  }
  return MDB_SUCCESS;
}

// Whether `key` is at `version` (see Batch::Expect) inside `txn`; kDataLoss
// when the stored value is damaged.
Result<bool> Store::Impl::ConditionHolds(MDB_txn* txn, const Batch::Condition& c) const {
  const Impl& impl = *this;
  MDB_val k = ToVal(c.key), d;
  const bool present = mdb_get(txn, impl.kv, &k, &d) == MDB_SUCCESS;
  if (c.version == Batch::kAbsent) return !present;
  if (!present) return false;
  if (c.version == Batch::kPresent) return true;
  // A page this transaction changed is a heap copy LMDB made, not the map;
  // its values were written or copied by this process a moment ago.
  if (impl.bounds.InMap(d.mv_data)) {
    if (Status s = impl.CheckStored(c.key, d); !s.ok()) return s;
  } else if (d.mv_size < internal::kValueHeaderBytes) {
    return Status(Code::kDataLoss, "a stored value is shorter than its header");
  }
  return internal::LoadU64(static_cast<const char*>(d.mv_data)) == c.version;
}

namespace {

bool IsPristine(MDB_txn* txn, MDB_dbi kv, Seq last) {
  MDB_stat st;
  return last == 0 && mdb_stat(txn, kv, &st) == MDB_SUCCESS && st.ms_entries == 0;
}

}  // namespace

void Store::Impl::CommitGroup(std::span<PendingWrite* const> group) {
  Seq next = 0;
  HistoryId hist;
  Status status = RunWrite(
      [&](MDB_txn* txn) -> int {
        // May run more than once (map growth): start from committed state.
        next = last_seq.load(std::memory_order_acquire);
        hist = CurrentHistory();
        const std::uint64_t now = NowNs();
        std::uint64_t log_bytes = internal::GetMetaU64(txn, meta, internal::kMetaLogBytes);
        for (PendingWrite* w : group) {
          w->status = Status::Ok();
          w->seq = 0;
          if (w->batch != nullptr) {
            for (const Batch::Condition& c : w->batch->conditions()) {
              Result<bool> holds = ConditionHolds(txn, c);
              if (!holds.ok()) {
                w->status = holds.status();
                break;
              }
              if (!*holds) {
                w->status = Status(Code::kAborted, "precondition failed for key '" + c.key + "'");
                break;
              }
            }
            if (!w->status.ok()) continue;
            const Seq seq = next + 1;
            if (int rc = ApplyOps(txn, w->batch->ops(), seq)) return rc;
            if (int rc = AppendLog(txn, seq, now, w->batch->ops(), log_bytes)) return rc;
            next = w->seq = seq;
            continue;
          }
          // A follower apply.
          if (*w->apply_history != hist) {
            if (!IsPristine(txn, kv, next)) {
              w->status = Status(Code::kFailedPrecondition,
                                 "history mismatch: this store follows " + hist.ToHex() +
                                     ", the batch is from " + w->apply_history->ToHex());
              continue;
            }
            hist = *w->apply_history;
            MDB_val hk = ToVal(internal::kMetaHistory);
            MDB_val hv{hist.bytes.size(), hist.bytes.data()};
            if (int rc = mdb_put(txn, meta, &hk, &hv, 0)) return rc;
          }
          if (w->apply_records.front().seq != next + 1) {
            w->status = Status(Code::kFailedPrecondition,
                               "batch starts at seq " +
                                   std::to_string(w->apply_records.front().seq) +
                                   ", this store needs " + std::to_string(next + 1));
            continue;
          }
          for (const LogRecord& rec : w->apply_records) {
            if (int rc = ApplyOps(txn, rec.ops, rec.seq)) return rc;
            if (int rc = AppendLog(txn, rec.seq, rec.commit_time_ns, rec.ops, log_bytes))
              return rc;
            next = rec.seq;
          }
          w->seq = next;
        }
        Seq first = 0;
        if (int rc = TrimLog(txn, next, log_bytes, first)) return rc;
        if (int rc = internal::PutMetaU64(txn, meta, internal::kMetaLastSeq, next)) return rc;
        if (first != 0)
          if (int rc = internal::PutMetaU64(txn, meta, internal::kMetaFirstLogSeq, first)) return rc;
        return internal::PutMetaU64(txn, meta, internal::kMetaLogBytes, log_bytes);
      },
      "committing a write");

  if (!status.ok()) {
    for (PendingWrite* w : group) {
      w->status = status;
      w->seq = 0;
    }
    return;
  }
  Publish(next, hist);
  commits.fetch_add(1, std::memory_order_relaxed);
  committed_writes.fetch_add(group.size(), std::memory_order_relaxed);
  group_buckets[BucketFor(group.size())].fetch_add(1, std::memory_order_relaxed);
}

// ---- public write API ------------------------------------------------------

Result<Seq> Store::Write(const Batch& batch) {
  if (batch.empty() && batch.conditions().empty())
    return Status(Code::kInvalidArgument, "empty batch");
  if (Status s = impl_->CheckBatch(batch); !s.ok()) return s;
  PendingWrite w;
  w.batch = &batch;
  for (const LogOp& op : batch.ops()) w.bytes += op.key.size() + op.value.size();
  return impl_->Submit(w);
}

Result<Seq> Store::Put(std::string_view key, std::string_view value) {
  Batch batch;
  batch.Put(key, value);
  return Write(batch);
}

Result<Seq> Store::Erase(std::string_view key) {
  Batch batch;
  batch.Erase(key);
  return Write(batch);
}

Result<Seq> Store::Apply(const HistoryId& history, std::span<const LogRecord> records) {
  if (records.empty()) return Status(Code::kInvalidArgument, "empty batch of records");
  if (history.IsZero()) return Status(Code::kInvalidArgument, "zero history id");
  PendingWrite w;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0 && records[i].seq != records[i - 1].seq + 1)
      return Status(Code::kInvalidArgument, "records are not consecutive");
    for (const LogOp& op : records[i].ops) {
      if (op.key.empty() || op.key.size() > kMaxKeyBytes)
        return Status(Code::kInvalidArgument, "record key must be 1..511 bytes");
      w.bytes += op.key.size() + op.value.size();
    }
  }
  w.apply_history = &history;
  w.apply_records = records;
  return impl_->Submit(w);
}

}  // namespace mehdb
