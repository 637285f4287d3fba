// SPDX-License-Identifier: MIT
//
// Scanner: ordered scans over one read snapshot, a batch of keys per call
// (see mehdb/store.h for why batches). Store::ForEach and Store::Scan are
// built on it.
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

  State(Store::Impl::ReadTxn t, const internal::MapBounds& b, const ScanOptions& o)
      : txn(std::move(t)),
        bounds(b),
        prefix(o.prefix),
        start_after(o.start_after),
        left(o.limit != 0 ? o.limit : SIZE_MAX) {}

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

Result<std::span<const ScanEntry>> Scanner::Next() {
  State& s = *state_;
  if (s.done) return std::span<const ScanEntry>();
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
      return Status(Code::kDataLoss, "a stored value " +
                                         std::string(d.mv_size < internal::kValueHeaderBytes
                                                         ? "is shorter than its header"
                                                         : "lies outside the data file") +
                                         ": " + s.bounds.file() + " is damaged");
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

Result<Scanner> Store::NewScanner(const ScanOptions& options) const {
  auto txn = impl_->BeginRead();
  if (!txn.ok()) return txn.status();
  auto state = std::make_unique<Scanner::State>(std::move(*txn), impl_->bounds, options);
  if (int rc = state->cursor.Open(state->txn.get(), impl_->kv); rc != MDB_SUCCESS)
    return LmdbStatus(rc, "opening a cursor");
  return Scanner(std::move(state));
}

}  // namespace mehdb
