// SPDX-License-Identifier: MIT
//
// Scanner: ordered scans over one read snapshot, a batch of keys per call
// (see mehdb/store.h for why batches). Store::ForEach and Store::Scan are
// built on it. Writes acknowledged but not yet applied to LMDB (the pending
// index, store_impl.h) are copied when the scan starts and merged in: the
// higher version of a key wins, and a pending erase hides the key.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::LmdbStatus;
using internal::ToVal;
using internal::ToView;

namespace {
constexpr std::size_t kScanBatch = 64;
}  // namespace

struct Scanner::State {
  Store::Impl::ReadTxn txn;
  const internal::MapBounds& bounds;
  internal::Cursor cursor;
  std::string prefix;
  std::string start_after;
  std::size_t left;  // keys still allowed by the limit (SIZE_MAX: none)
  bool started = false;
  bool done = false;
  std::array<ScanEntry, kScanBatch> batch;
  // The pending entries in range, in key order, and the next one to merge.
  // With none, the LMDB-only loop runs (the common case, and the fastest).
  std::vector<internal::PendingItem> overlay;
  std::size_t next_overlay = 0;
  // Merging: LMDB's entry not yet handed out, and the cursor's last code.
  MDB_val peek_key{}, peek_data{};
  int peek_rc = MDB_NOTFOUND;

  State(Store::Impl::ReadTxn t, const internal::MapBounds& b, const ScanOptions& o,
        std::vector<internal::PendingItem> pending)
      : txn(std::move(t)),
        bounds(b),
        prefix(o.prefix),
        start_after(o.start_after),
        left(o.limit != 0 ? o.limit : SIZE_MAX),
        overlay(std::move(pending)) {}

  // Positions on the first key after start_after (or the prefix's first).
  int First(MDB_val& k, MDB_val& d) {
    const std::string& start = start_after > prefix ? start_after : prefix;
    k = ToVal(start);
    int rc = start.empty() ? mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST)
                           : mdb_cursor_get(cursor.get(), &k, &d, MDB_SET_RANGE);
    // SET_RANGE lands on start_after itself when it exists; skip just that one.
    if (rc == MDB_SUCCESS && !start_after.empty() && ToView(k) == start_after)
      rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT);
    return rc;
  }
};

Scanner::Scanner(std::unique_ptr<State> state) : state_(std::move(state)) {}
Scanner::Scanner(Scanner&&) noexcept = default;
Scanner& Scanner::operator=(Scanner&&) noexcept = default;
Scanner::~Scanner() = default;

namespace {

Status DamagedValue(const MDB_val& d, const internal::MapBounds& bounds) {
  return Status(Code::kDataLoss, "a stored value " +
                                     std::string(d.mv_size < internal::kValueHeaderBytes
                                                     ? "is shorter than its header"
                                                     : "lies outside the data file") +
                                     ": " + bounds.file() + " is damaged");
}

}  // namespace

Result<std::span<const ScanEntry>> Scanner::Next() {
  State& s = *state_;
  if (s.done) return std::span<const ScanEntry>();
  // Merging LMDB's keys with the pending ones, out of line: the LMDB-only
  // loop below is sensitive to its code's size (see there), and inlining
  // this next to it cost 40% of the full-scan rate.
  auto merged = [&]() __attribute__((noinline)) -> Result<std::span<const ScanEntry>> {
    if (!s.started) {
      s.started = true;
      s.peek_rc = s.First(s.peek_key, s.peek_data);
    }
    ScanEntry* const out = s.batch.data();
    const std::size_t cap = std::min(kScanBatch, s.left);
    std::size_t n = 0;
    while (n < cap) {
      // The LMDB keys before the next pending one (all of them once every
      // pending key is out) go as in the LMDB-only loop, plus one compare
      // with that key each, rather than through the merge step one by one
      // (bench/engine's key scan with a writer running, so a few hundred
      // keys pending: 0.64-0.74x raw LMDB by steps, 0.74-0.79x so).
      if (s.peek_rc == MDB_SUCCESS) {
        const bool fenced = s.next_overlay < s.overlay.size();
        const std::string_view fence =
            fenced ? std::string_view(s.overlay[s.next_overlay].key) : std::string_view();
        MDB_cursor* const cursor = s.cursor.get();
        const bool has_prefix = !s.prefix.empty();
        // In locals, not in the State: the loop stays in registers.
        MDB_val k = s.peek_key, d = s.peek_data;
        int rc = MDB_SUCCESS;
        while (n < cap) {
          const std::string_view key = ToView(k);
          if (fenced && key >= fence) break;
          if (has_prefix && !key.starts_with(s.prefix)) break;  // the step below ends it
          if (d.mv_size < internal::kValueHeaderBytes || !s.bounds.Contains(d.mv_data, d.mv_size))
              [[unlikely]] {
            s.done = true;
            return DamagedValue(d, s.bounds);
          }
          out[n].key_ = key;
          out[n].stored_ = ToView(d);
          ++n;
          rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT);
          if (rc != MDB_SUCCESS) break;
        }
        s.peek_key = k;
        s.peek_data = d;
        s.peek_rc = rc;
        if (n == cap) break;
      }
      // One step of the merge: the pending key against LMDB's, the end of
      // the prefix, or an error.
      if (s.peek_rc == MDB_SUCCESS && !s.prefix.empty() &&
          !ToView(s.peek_key).starts_with(s.prefix))
        s.peek_rc = MDB_NOTFOUND;
      if (s.peek_rc != MDB_SUCCESS && s.peek_rc != MDB_NOTFOUND) {
        s.done = true;
        return LmdbStatus(s.peek_rc, "scanning keys");
      }
      const bool have_lmdb = s.peek_rc == MDB_SUCCESS;
      const bool have_pending = s.next_overlay < s.overlay.size();
      if (!have_lmdb && !have_pending) break;
      if (have_lmdb && (s.peek_data.mv_size < internal::kValueHeaderBytes ||
                        !s.bounds.Contains(s.peek_data.mv_data, s.peek_data.mv_size))) {
        s.done = true;
        return DamagedValue(s.peek_data, s.bounds);
      }
      const int cmp = !have_lmdb      ? 1
                      : !have_pending ? -1
                                      : ToView(s.peek_key).compare(s.overlay[s.next_overlay].key);
      const MDB_val k = s.peek_key, d = s.peek_data;
      if (cmp <= 0)
        s.peek_rc = mdb_cursor_get(s.cursor.get(), &s.peek_key, &s.peek_data, MDB_NEXT);
      const internal::PendingItem* item = nullptr;
      if (cmp >= 0) item = &s.overlay[s.next_overlay++];
      // Same key in both: the newer wins (LMDB may have applied an even
      // newer write after the pending entries were copied).
      if (item != nullptr &&
          (cmp > 0 || internal::LoadU64(static_cast<const char*>(d.mv_data)) < item->op.seq)) {
        if (!item->op.stored) continue;  // erased
        out[n].key_ = item->key;
        out[n].stored_ = *item->op.stored;
      } else {
        out[n].key_ = ToView(k);
        out[n].stored_ = ToView(d);
      }
      ++n;
    }
    s.left -= n;
    if (n == cap && s.left != 0) return std::span<const ScanEntry>(out, n);
    s.done = true;
    return std::span<const ScanEntry>(out, n);
  };
  if (!s.overlay.empty()) [[unlikely]]
    return merged();
  MDB_val k, d;
  int rc;
  if (!s.started) {
    s.started = true;
    rc = s.First(k, d);
  } else {
    rc = mdb_cursor_get(s.cursor.get(), &k, &d, MDB_NEXT);
  }
  // Runs once per key of a full scan, and a full scan is bound by the cache
  // miss on each key's node: the CPU overlaps those misses only while the
  // loop stays this small (a version decoded here, or a limit counted down
  // per key, measurably slowed it). So the limit bounds the batch instead,
  // and the value's version is decoded only when asked for (ScanEntry).
  const bool has_prefix = !s.prefix.empty();
  ScanEntry* const out = s.batch.data();
  MDB_cursor* const cursor = s.cursor.get();
  const std::size_t cap = std::min(kScanBatch, s.left);
  std::size_t n = 0;
  bool past_prefix = false;
  while (rc == MDB_SUCCESS && n < cap) {
    const std::string_view key = ToView(k);
    if (has_prefix && !key.starts_with(s.prefix)) {
      past_prefix = true;
      break;
    }
    static_assert(ScanEntry::kVersionBytes == internal::kVersionBytes);
    static_assert(ScanEntry::kHeaderBytes == internal::kValueHeaderBytes);
    // Two compares: the checksum waits until the value is read (Verify).
    if (d.mv_size < internal::kValueHeaderBytes ||
        !s.bounds.Contains(d.mv_data, d.mv_size)) [[unlikely]] {
      s.done = true;
      return DamagedValue(d, s.bounds);
    }
    out[n].key_ = key;
    out[n].stored_ = ToView(d);
    // A full batch leaves the cursor on its last key: the next call steps on.
    if (++n == cap) break;
    rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT);
  }
  s.left -= n;
  if (rc == MDB_SUCCESS && !past_prefix && s.left != 0)
    return std::span<const ScanEntry>(out, n);
  s.done = true;
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return LmdbStatus(rc, "scanning keys");
  return std::span<const ScanEntry>(out, n);
}

Status ScanEntry::Verify() const {
  if (internal::StoredValueIntact(key_, stored_)) [[likely]]
    return Status::Ok();
  return Status(Code::kDataLoss,
                "a stored value does not match its checksum: the store's data file is damaged");
}

std::vector<internal::PendingItem> Store::Impl::PendingRange(const ScanOptions& o) const {
  std::vector<internal::PendingItem> out;
  if (pending_size.load(std::memory_order_acquire) == 0) return out;
  const std::string& start = o.start_after > o.prefix ? o.start_after : o.prefix;
  std::lock_guard lock(pending_mu);
  if (pending.empty()) return out;
  std::size_t live = 0;
  for (auto it = pending.lower_bound(start); it != pending.end(); ++it) {
    if (!o.start_after.empty() && it->first == o.start_after) continue;
    if (!o.prefix.empty() && !std::string_view(it->first).starts_with(o.prefix)) break;
    out.push_back({it->first, it->second});
    // A limited scan hands out at most `limit` keys: none past the limit-th
    // live pending one.
    if (it->second.stored && o.limit != 0 && ++live == o.limit) break;
  }
  return out;
}

Status Store::Impl::CheckRangeNotDoubted(const ScanOptions& o) const {
  if (doubted_size.load(std::memory_order_acquire) == 0) return Status::Ok();
  std::lock_guard lock(pending_mu);
  for (auto it = doubted.lower_bound(o.prefix); it != doubted.end(); ++it) {
    if (!o.prefix.empty() && !std::string_view(*it).starts_with(o.prefix)) break;
    if (*it <= o.start_after) continue;
    return DoubtedStatus(*it);
  }
  return Status::Ok();
}

Result<Scanner> Store::NewScanner(const ScanOptions& options) const {
  if (Status s = impl_->CheckRangeNotDoubted(options); !s.ok()) return s;
  // Pending entries first, then the read txn: one the applier drops
  // meanwhile is in the txn (see Store::Impl::pending_mu).
  std::vector<internal::PendingItem> pending = impl_->PendingRange(options);
  auto txn = impl_->BeginRead();
  if (!txn.ok()) return txn.status();
  auto state = std::make_unique<Scanner::State>(std::move(*txn), impl_->bounds, options,
                                                std::move(pending));
  if (int rc = state->cursor.Open(state->txn.get(), impl_->kv); rc != MDB_SUCCESS)
    return LmdbStatus(rc, "opening a cursor");
  return Scanner(std::move(state));
}

}  // namespace mehdb
