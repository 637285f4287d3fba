// SPDX-License-Identifier: MIT
//
// The write path. Callers queue their writes; the one at the front becomes
// the group's committer: it takes everything queued behind it, checks their
// conditions against the pending index and LMDB, frames their records,
// appends them all to the write-ahead log with one fdatasync, makes them
// visible in the pending index, then wakes each caller with its own outcome
// and sequence number. While it commits, new callers queue up and form the
// next group. So durable writes from many concurrent clients cost one
// sequential append and one sync per group; the applier (applier.cc) puts
// them into LMDB off this path.
#include <pthread.h>

#include <cstring>

#include "codec.h"
#include "log_codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::PendingWrite;
using internal::ToVal;

namespace {

// Bounds on one group: enough to amortise the sync, small enough that one
// transaction's dirty pages stay modest.
constexpr std::size_t kMaxGroupWrites = 512;
constexpr std::size_t kMaxGroupBytes = std::size_t{64} << 20;
// How long a writer waits for a failing applier's retry.
constexpr auto kApplierRetryWait = std::chrono::seconds(2);
// LMDB bytes a record costs, per byte of its frame: the value and its
// change-log copy (PutBytes adds room for partly filled pages).
constexpr std::uint64_t kMapBytesPerFrameByte = 2;
// And for the branch pages and free-list records around them.
constexpr std::uint64_t kRoomSlackBytes = 64 << 10;

std::size_t BucketFor(std::size_t n) {
  std::size_t bucket = 0;
  for (std::size_t bound = 1; bucket < 8 && n > bound; bound *= 2) ++bucket;
  return bucket;
}

// Bytes of keys and values a write puts (erases need no room), plus room
// for the partly filled pages small values leave.
std::uint64_t PutBytes(std::span<const LogOp> ops) {
  std::uint64_t n = 0;
  for (const LogOp& op : ops)
    if (op.kind == LogOp::Kind::kPut) n += op.key.size() + op.value.size() + 512;
  return n;
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
  if (!w.done) LeadGroup(lock, &w);  // this caller leads the next group
  if (!w.status.ok()) return w.status;
  return w.seq;
}

void Store::Impl::SubmitAsync(std::unique_ptr<PendingWrite> w) {
  std::unique_lock lock(queue_mu);
  if (committer_stop) {
    lock.unlock();
    w->on_done(Status(Code::kUnavailable, "the store is closing"));
    return;
  }
  if (!committer.joinable()) {
    committer = std::thread([this] { CommitterLoop(); });
    ::pthread_setname_np(committer.native_handle(), "mehdb-commit");
  }
  PendingWrite* p = w.release();
  queue.push_back(p);
  // The committer waits only on an empty queue. Woken after the unlock,
  // it does not wake straight into a mutex this thread still holds.
  const bool was_empty = queue.front() == p;
  lock.unlock();
  if (was_empty) committer_cv.notify_one();
}

void Store::Impl::CommitterLoop() {
  std::unique_lock lock(queue_mu);
  for (;;) {
    committer_cv.wait(lock, [&] {
      return queue.empty() ? committer_stop : queue.front()->on_done != nullptr;
    });
    if (queue.empty()) return;  // stopping, and every write is answered
    LeadGroup(lock, nullptr);
  }
}

void Store::Impl::StopCommitter() {
  {
    std::lock_guard lock(queue_mu);
    committer_stop = true;
  }
  committer_cv.notify_all();
  if (committer.joinable()) committer.join();
  // Every write is committed; answer them. A callback's new WriteAsync is
  // now refused as "closing", so nothing more is queued.
  {
    std::lock_guard lock(answer_mu);
    answerer_stop = true;
  }
  answer_cv.notify_all();
  if (answerer.joinable()) answerer.join();
}

void Store::Impl::Answer(std::vector<std::unique_ptr<PendingWrite>> done) {
  bool was_empty = false;
  {
    std::lock_guard lock(answer_mu);
    if (!answerer.joinable()) {
      answerer = std::thread([this] { AnswererLoop(); });
      ::pthread_setname_np(answerer.native_handle(), "mehdb-answer");
    }
    was_empty = answers.empty();
    for (auto& p : done) answers.push_back(std::move(p));
  }
  // The answerer waits only when nothing is queued (answers it took are
  // off the queue, so a busy answerer is woken for nothing: cheap with no
  // waiter). Woken after the unlock, it does not wake into a held mutex.
  if (was_empty) answer_cv.notify_one();
}

void Store::Impl::AnswererLoop() {
  std::unique_lock lock(answer_mu);
  for (;;) {
    answer_cv.wait(lock, [&] { return !answers.empty() || answerer_stop; });
    if (answers.empty()) return;  // stopping, and every write is answered
    std::deque<std::unique_ptr<PendingWrite>> batch;
    batch.swap(answers);
    lock.unlock();
    for (auto& p : batch) {
      if (p->status.ok()) p->on_done(p->seq);
      else p->on_done(p->status);
    }
    batch.clear();  // the writes (and their callbacks' captures) go outside the mutex
    lock.lock();
  }
}

void Store::Impl::LeadGroup(std::unique_lock<std::mutex>& lock, const PendingWrite* self) {
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
  if (!queue.empty()) {
    if (queue.front()->on_done) committer_cv.notify_one();
    else queue.front()->cv.notify_one();
  }
  std::vector<std::unique_ptr<PendingWrite>> answered;
  for (PendingWrite* p : group) {
    if (p == self) continue;
    if (p->on_done) {
      answered.emplace_back(p);
    } else {
      p->done = true;
      p->cv.notify_one();
    }
  }
  if (!answered.empty()) Answer(std::move(answered));
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

Result<std::optional<Seq>> Store::Impl::StoredVersion(MDB_txn* txn, std::string_view key) const {
  MDB_val k = ToVal(key), d;
  const int rc = mdb_get(txn, kv, &k, &d);
  if (rc == MDB_NOTFOUND) return std::optional<Seq>();
  if (rc != MDB_SUCCESS) return internal::LmdbStatus(rc, "reading a key");
  if (Status s = CheckStored(key, d); !s.ok()) return s;
  return std::optional<Seq>(internal::LoadU64(static_cast<const char*>(d.mv_data)));
}

std::uint64_t Store::Impl::MapUsedBytes() const {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  return (info.me_last_pgno + 1) * st.ms_psize;
}

namespace internal {

PendingOp PendingOpFor(const LogOp& op, Seq seq) {
  PendingOp p{seq, nullptr};
  if (op.kind == LogOp::Kind::kPut) {
    auto stored = std::make_shared<std::string>(kValueHeaderBytes + op.value.size(), '\0');
    WriteStoredValue(stored->data(), op.key, seq, op.value);
    p.stored = std::move(stored);
  }
  return p;
}

}  // namespace internal

bool Store::Impl::MapHasRoom(MDB_txn* txn, std::uint64_t more, std::int64_t& free_pages) const {
  MDB_stat st;
  mdb_env_stat(env, &st);
  const std::uint64_t page = st.ms_psize;
  const std::uint64_t used = MapUsedBytes();
  const std::uint64_t need = kMapBytesPerFrameByte * (unapplied_bytes + more) + 16 * page;
  if (used + need <= options.max_map_bytes) return true;
  if (free_pages < 0) {
    // Near the ceiling: count the free list's pages (LMDB reuses them).
    // Each record of LMDB's free DB (dbi 0) is a page-number list whose
    // first word is its length.
    free_pages = 0;
    internal::Cursor cursor;
    if (cursor.Open(txn, 0) == MDB_SUCCESS) {
      MDB_val k, d;
      for (int rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST); rc == MDB_SUCCESS;
           rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT)) {
        std::size_t n = 0;
        if (d.mv_size >= sizeof n) std::memcpy(&n, d.mv_data, sizeof n);
        free_pages += static_cast<std::int64_t>(n);
      }
    }
  }
  return used - std::min(used, static_cast<std::uint64_t>(free_pages) * page) + need <=
         options.max_map_bytes;
}

Status Store::Impl::AdoptHistory(const HistoryId& hist) {
  {
    auto txn = BeginRead();
    if (!txn.ok()) return txn.status();
    MDB_stat st;
    if (last_seq.load(std::memory_order_acquire) != 0 ||
        live_keys.load(std::memory_order_acquire) != 0 ||
        mdb_stat(txn->get(), kv, &st) != MDB_SUCCESS || st.ms_entries != 0)
      return Status(Code::kFailedPrecondition, "not pristine");
  }
  // Straight to LMDB (synced) and a fresh log: nothing is pending in a
  // pristine store, and the log's segments carry the history they belong to.
  Status s = RunWrite(
      [&](MDB_txn* txn) {
        MDB_val hk = ToVal(internal::kMetaHistory);
        MDB_val hv{hist.bytes.size(), const_cast<std::uint8_t*>(hist.bytes.data())};
        return mdb_put(txn, meta, &hk, &hv, 0);
      },
      "adopting the leader's history");
  if (!s.ok()) return s;
  if (Status r = wal->Reset(1, hist); !r.ok()) return r;
  Publish(0, hist);
  return Status::Ok();
}

namespace {

// Everything one group will acknowledge, staged before its log append.
struct StagedGroup {
  std::vector<std::string> frames;  // one change-log frame per record
  std::vector<Seq> seqs;            // their seqs
  std::vector<std::pair<std::string, internal::PendingOp>> ops;  // key -> newest op, in order
  // What this group did to each key so far, for its later conditions:
  // the version it put, or nullopt for an erase.
  std::map<std::string, std::optional<Seq>, std::less<>> overlay;
  std::int64_t live_delta = 0;
};

}  // namespace

void Store::Impl::CommitGroup(std::span<PendingWrite* const> group) {
  for (PendingWrite* w : group) {
    w->status = Status::Ok();
    w->seq = 0;
  }
  auto fail_all = [&](const Status& s) {
    for (PendingWrite* w : group) {
      w->status = s;
      w->seq = 0;
    }
  };
  HistoryId hist = CurrentHistory();
  if (const PendingWrite* first = group.front();
      first->batch == nullptr && *first->apply_history != hist) {
    Status s = AdoptHistory(*first->apply_history);
    if (s.ok()) {
      hist = *first->apply_history;
    } else if (s.code() != Code::kFailedPrecondition) {
      return fail_all(s);
    }
  }

  {
    std::unique_lock lock(pending_mu);
    // The applier's last commit failed (a full disk, say): have it retry now
    // and go by the outcome, rather than log writes it cannot apply.
    if (!applier_status.ok()) {
      // An attempt under way may have started before things improved: wait
      // for one that starts after this point.
      const std::uint64_t begun = applier_attempts_begun;
      retry_now = true;
      applier_cv.notify_all();
      applied_cv.wait_for(lock, kApplierRetryWait, [&] {
        return stopping || applier_status.ok() || applier_stuck_attempt > begun;
      });
      if (!applier_status.ok()) {
        const Status failed = applier_status;
        lock.unlock();
        return fail_all(failed);
      }
    }
    // Backpressure: the applier must keep up with the log within a bound.
    applied_cv.wait(lock, [&] {
      return stopping || unapplied_bytes <= options.max_unapplied_bytes;
    });
  }
  // Near the map's ceiling or on a nearly full volume, take writes only once
  // LMDB holds every earlier one (the applier may be gathering a batch), so
  // the room checks below compare with what LMDB really holds.
  // "Near": the estimate passes half the ceiling (LMDB cannot reuse pages
  // freed inside the transaction that frees them, so one large batch needs
  // more than the per-record estimate says).
  auto map_near_ceiling = [&] {
    std::uint64_t waiting = 0;
    {
      std::lock_guard lock(pending_mu);
      waiting = unapplied_bytes;
    }
    if (waiting == 0) return false;
    std::uint64_t more = 0;
    for (const PendingWrite* w : group) more += w->bytes;
    internal::GateGuard inside(gate);  // the applier may be growing the map
    return MapUsedBytes() + kMapBytesPerFrameByte * (waiting + more) > options.max_map_bytes / 2;
  };
  if (wal->FreeBytesIfLow() != UINT64_MAX || map_near_ceiling())
    if (Status s = Flush(); !s.ok()) return fail_all(s);

  StagedGroup g;
  Seq next = last_seq.load(std::memory_order_acquire);
  const std::uint64_t now = NowNs();
  {
    // Holding pending_mu from before the read txn starts until the last
    // lookup: a key missing from `pending` was applied before the txn began,
    // so the txn sees it (the applier drops entries only after committing,
    // under this mutex).
    std::lock_guard lock(pending_mu);
    auto txn = BeginRead();
    if (!txn.ok()) return fail_all(txn.status());
    auto version_of = [&](std::string_view key) -> Result<std::optional<Seq>> {
      if (auto it = g.overlay.find(key); it != g.overlay.end()) return it->second;
      if (auto it = pending.find(key); it != pending.end())
        return it->second.stored ? std::optional<Seq>(it->second.seq) : std::nullopt;
      return StoredVersion(txn->get(), key);
    };
    auto present = [&](std::string_view key) {
      if (auto it = g.overlay.find(key); it != g.overlay.end()) return it->second.has_value();
      if (auto it = pending.find(key); it != pending.end()) return it->second.stored != nullptr;
      MDB_val k = ToVal(key), d;
      return mdb_get(txn->get(), kv, &k, &d) == MDB_SUCCESS;
    };
    auto stage = [&](Seq seq, std::uint64_t time_ns, std::span<const LogOp> ops) {
      for (const LogOp& op : ops) {
        const bool put = op.kind == LogOp::Kind::kPut;
        g.live_delta += static_cast<int>(put) - static_cast<int>(present(op.key));
        g.overlay.insert_or_assign(op.key, put ? std::optional<Seq>(seq) : std::nullopt);
        g.ops.emplace_back(op.key, internal::PendingOpFor(op, seq));
      }
      std::string frame;
      internal::EncodeLogFrame(seq, time_ns, ops, frame);
      g.frames.push_back(std::move(frame));
      g.seqs.push_back(seq);
    };
    std::uint64_t staged_bytes = 0;
    std::int64_t free_pages = -1;
    // On a nearly full volume, a write is taken only if LMDB will find the
    // room to apply it (the same estimate as for the map).
    const std::uint64_t disk_free = wal->FreeBytesIfLow();
    // A write LMDB could not take must not be acknowledged: the applier
    // would be stuck on it. So a write putting `puts` bytes is refused
    // (with why) unless the map and the volume have room for it after
    // everything unapplied and staged; erases alone always go (they make
    // room). Counts the room as taken when it is there.
    auto take_room = [&](std::uint64_t puts) -> std::optional<Status> {
      if (puts == 0) return std::nullopt;
      if (!MapHasRoom(txn->get(), staged_bytes + puts, free_pages))
        return Status(Code::kResourceExhausted,
                      "the store reached its map size ceiling (max_map_bytes = " +
                          std::to_string(options.max_map_bytes) + ")",
                      MDB_MAP_FULL);
      if (disk_free != UINT64_MAX) {
        const std::uint64_t need =
            kMapBytesPerFrameByte * (unapplied_bytes + staged_bytes + puts) + kRoomSlackBytes;
        if (need > disk_free)
          return Status(Code::kNoSpace,
                        "the volume of " + dir + " is full: " + std::to_string(disk_free) +
                            " bytes free, applying the unapplied writes needs about " +
                            std::to_string(need),
                        ENOSPC);
      }
      staged_bytes += puts;
      return std::nullopt;
    };

    for (PendingWrite* w : group) {
      if (w->batch != nullptr) {
        for (const Batch::Condition& c : w->batch->conditions()) {
          Result<std::optional<Seq>> v = version_of(c.key);
          if (!v.ok()) {
            w->status = v.status();
            break;
          }
          const bool holds = c.version == Batch::kAbsent
                                 ? !v->has_value()
                                 : v->has_value() && (c.version == Batch::kPresent || **v == c.version);
          if (!holds) {
            w->status = Status(Code::kAborted, "precondition failed for key '" + c.key + "'");
            break;
          }
        }
        if (!w->status.ok()) continue;
        if (auto refused = take_room(PutBytes(w->batch->ops()))) {
          w->status = *refused;
          continue;
        }
        stage(next + 1, now, w->batch->ops());
        next = w->seq = next + 1;
        continue;
      }
      // A follower apply.
      if (*w->apply_history != hist) {
        w->status = Status(Code::kFailedPrecondition,
                           "history mismatch: this store follows " + hist.ToHex() +
                               ", the batch is from " + w->apply_history->ToHex());
        continue;
      }
      if (w->apply_records.front().seq != next + 1) {
        w->status = Status(Code::kFailedPrecondition,
                           "batch starts at seq " + std::to_string(w->apply_records.front().seq) +
                               ", this store needs " + std::to_string(next + 1));
        continue;
      }
      std::uint64_t puts = 0;
      for (const LogRecord& rec : w->apply_records) puts += PutBytes(rec.ops);
      if (auto refused = take_room(puts)) {
        w->status = *refused;
        continue;
      }
      for (const LogRecord& rec : w->apply_records) stage(rec.seq, rec.commit_time_ns, rec.ops);
      next = w->seq = w->apply_records.back().seq;
    }
  }
  if (g.frames.empty()) return;

  // The acknowledgement point: the records are in the log, synced once.
  bool in_doubt = false;
  if (Status s = wal->Append(g.seqs.front(), g.frames, in_doubt); !s.ok()) {
    if (in_doubt) {
      // The volume failed mid-append and the records could not be cut off:
      // the next Open may find them. Until then these keys have no state
      // this store can vouch for.
      std::lock_guard lock(pending_mu);
      for (const auto& [key, op] : g.ops) doubted.insert(key);
      doubted_size.store(doubted.size(), std::memory_order_release);
    }
    return fail_all(s);
  }

  bool wake_applier = false;
  {
    std::lock_guard lock(pending_mu);
    const std::uint64_t unapplied_before = unapplied_bytes;
    if (!doubted.empty() && !wal->InDoubt()) {
      // This append's new segment superseded the failed one's records.
      doubted.clear();
      doubted_size.store(0, std::memory_order_release);
    }
    for (auto& [key, op] : g.ops) SetPending(std::move(key), std::move(op));
    pending_size.store(pending.size(), std::memory_order_release);
    for (std::size_t i = 0; i < g.frames.size(); ++i) {
      unapplied_bytes += g.frames[i].size();
      unapplied.push_back({g.seqs[i], std::move(g.frames[i])});
    }
    live_keys.fetch_add(static_cast<std::uint64_t>(g.live_delta), std::memory_order_release);
    // Wake the applier only when what it waits for may have come true: the
    // first unapplied record, or the batch it gathers reaching its size.
    // Its waits test their condition under pending_mu before sleeping, so
    // a crossing while it is busy applying is seen when it next waits; a
    // wake per group would cost a context switch each, for nothing.
    const std::uint64_t enough = ApplyGatherBytes();
    wake_applier = unapplied_before == 0 ||
                   (unapplied_before < enough && unapplied_bytes >= enough);
  }
  if (wake_applier) applier_cv.notify_one();
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

void Store::WriteAsync(Batch batch, WriteDone done) {
  if (batch.empty() && batch.conditions().empty())
    return done(Status(Code::kInvalidArgument, "empty batch"));
  if (Status s = impl_->CheckBatch(batch); !s.ok()) return done(s);
  auto w = std::make_unique<internal::PendingWrite>();
  w->owned_batch = std::make_unique<Batch>(std::move(batch));
  w->batch = w->owned_batch.get();
  for (const LogOp& op : w->batch->ops()) w->bytes += op.key.size() + op.value.size();
  w->on_done = std::move(done);
  impl_->SubmitAsync(std::move(w));
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
