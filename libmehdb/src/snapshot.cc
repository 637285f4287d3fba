// SPDX-License-Identifier: MIT
//
// Whole-store copies: backups (LMDB's compacting copy) and the logical
// snapshot stream a follower loads (format in mehdb/replication.h). Each is
// read in one read transaction, so it is consistent at one seq.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include <cstring>

#include "codec.h"
#include "store_impl.h"

namespace mehdb {

using internal::LmdbStatus;
using internal::ToVal;
using internal::ToView;

namespace {

constexpr std::string_view kSnapshotMagic = "MEHDBSNP";
constexpr std::uint32_t kSnapshotFormat = 1;
constexpr char kFrameHeader = 'H';
constexpr char kFrameEntries = 'E';
constexpr char kFrameTrailer = 'T';

}  // namespace

Status Store::Backup(std::string_view dir_view) const {
  const std::string dir(dir_view);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec))
    return Status(Code::kFailedPrecondition, "backup target is not empty: " + dir);
  std::filesystem::create_directories(dir, ec);
  if (ec) return LmdbStatus(ec.value(), "creating " + dir);
  // The copy is LMDB's: every write acknowledged so far must be in it.
  if (Status s = impl_->Flush(); !s.ok()) return s;
  internal::GateGuard pass(impl_->gate);  // no resize while LMDB copies
  // MDB_CP_COMPACT omits free pages: the copy is as small as the data.
  return LmdbStatus(mdb_env_copy2(impl_->env, dir.c_str(), MDB_CP_COMPACT),
                    "backing up to " + dir);
}

Status Store::BackupToFd(int fd) const {
  if (Status s = impl_->Flush(); !s.ok()) return s;
  internal::GateGuard pass(impl_->gate);
  return LmdbStatus(mdb_env_copyfd2(impl_->env, fd, MDB_CP_COMPACT), "streaming a backup");
}

// ---- export -------------------------------------------------------------

Status Store::ExportSnapshot(const std::function<bool(std::string_view)>& sink,
                             std::size_t chunk_bytes) const {
  // Read from LMDB alone, at its applied seq: include every write
  // acknowledged before this call.
  if (Status s = impl_->Flush(); !s.ok()) return s;
  auto txn = impl_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_stat st;
  if (int rc = mdb_stat(txn->get(), impl_->kv, &st)) return LmdbStatus(rc, "snapshot");
  SnapshotHeader header;
  header.seq = internal::GetMetaU64(txn->get(), impl_->meta, internal::kMetaLastSeq);
  header.entries = st.ms_entries;
  MDB_val hk = ToVal(internal::kMetaHistory), hv;
  if (mdb_get(txn->get(), impl_->meta, &hk, &hv) != MDB_SUCCESS ||
      hv.mv_size != header.history.bytes.size())
    return Status(Code::kDataLoss, "snapshot: no history record");
  std::memcpy(header.history.bytes.data(), hv.mv_data, hv.mv_size);

  // Keep the log after header.seq while the snapshot streams and for the
  // grace time after, so its receiver can resume from the log.
  std::list<Impl::LogHold>::iterator hold;
  {
    std::lock_guard lock(impl_->holds_mu);
    hold = impl_->holds.insert(impl_->holds.end(),
                               {header.seq, std::chrono::steady_clock::time_point::max()});
  }
  struct ReleaseHold {
    Impl& impl;
    std::list<Impl::LogHold>::iterator hold;
    ~ReleaseHold() {
      std::lock_guard lock(impl.holds_mu);
      hold->until = std::chrono::steady_clock::now() + impl.options.snapshot_log_grace;
    }
  } release{*impl_, hold};

  std::string out(kSnapshotMagic);
  internal::PutU32(out, kSnapshotFormat);
  std::string payload(1, kFrameHeader);
  payload.append(reinterpret_cast<const char*>(header.history.bytes.data()),
                 header.history.bytes.size());
  internal::PutU64(payload, header.seq);
  internal::PutU64(payload, header.entries);
  internal::AppendFrame(out, payload);

  internal::Cursor cursor;
  if (int rc = cursor.Open(txn->get(), impl_->kv)) return LmdbStatus(rc, "snapshot");
  MDB_val k, d;
  int rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_FIRST);
  std::string entries;
  std::uint32_t count = 0;
  auto flush_entries = [&] {
    payload.assign(1, kFrameEntries);
    internal::PutU32(payload, count);
    payload.append(entries);
    internal::AppendFrame(out, payload);
    entries.clear();
    count = 0;
  };
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_NEXT)) {
    std::string_view key = ToView(k), raw = ToView(d);
    // A damaged value must not travel to a follower as if it were data.
    if (Status s = impl_->CheckStored(key, d); !s.ok()) return s;
    internal::PutU32(entries, static_cast<std::uint32_t>(key.size()));
    entries.append(key);
    // The stored layout is u64 version | u32 crc | bytes; the stream wants
    // u32 vlen | u64 version | bytes (its frames carry their own checksum).
    const std::string_view value = raw.substr(internal::kValueHeaderBytes);
    internal::PutU32(entries, static_cast<std::uint32_t>(value.size()));
    entries.append(raw.substr(0, internal::kVersionBytes));
    entries.append(value);
    ++count;
    if (entries.size() >= chunk_bytes) flush_entries();
    if (out.size() >= chunk_bytes) {
      if (!sink(out)) return Status(Code::kAborted, "snapshot cancelled by the receiver");
      out.clear();
    }
  }
  if (rc != MDB_NOTFOUND) return LmdbStatus(rc, "snapshot");
  if (count > 0) flush_entries();
  payload.assign(1, kFrameTrailer);
  internal::PutU64(payload, header.entries);
  internal::AppendFrame(out, payload);
  if (!sink(out)) return Status(Code::kAborted, "snapshot cancelled by the receiver");
  return Status::Ok();
}

// ---- load ---------------------------------------------------------------

struct SnapshotLoader::Impl {
  Store* store = nullptr;
  std::string buffer;  // bytes received but not yet parsed
  bool magic_seen = false;
  bool header_seen = false;
  bool trailer_seen = false;
  SnapshotHeader header;
  std::uint64_t loaded = 0;
  std::string last_key;  // keys must arrive strictly ascending

  Status Frame(std::string_view payload);
  Status Entries(internal::Reader& r);
};

namespace {
Status Corrupt(const std::string& what) {
  return Status(Code::kDataLoss, "snapshot stream: " + what);
}
}  // namespace

SnapshotLoader::SnapshotLoader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SnapshotLoader::~SnapshotLoader() = default;

Result<std::unique_ptr<SnapshotLoader>> SnapshotLoader::Begin(Store& store) {
  auto count = store.Count();
  if (!count.ok()) return count.status();
  if (*count != 0 || store.LastSeq() != 0)
    return Status(Code::kFailedPrecondition, "a snapshot loads only into an empty store");
  auto impl = std::make_unique<Impl>();
  impl->store = &store;
  return std::unique_ptr<SnapshotLoader>(new SnapshotLoader(std::move(impl)));
}

Status SnapshotLoader::Feed(std::string_view bytes) {
  Impl& s = *impl_;
  s.buffer.append(bytes);
  std::string_view rest = s.buffer;
  if (!s.magic_seen) {
    if (rest.size() < kSnapshotMagic.size() + 4) return Status::Ok();
    if (!rest.starts_with(kSnapshotMagic)) return Corrupt("bad magic");
    if (internal::LoadU32(rest.data() + kSnapshotMagic.size()) != kSnapshotFormat)
      return Corrupt("unsupported format");
    rest.remove_prefix(kSnapshotMagic.size() + 4);
    s.magic_seen = true;
  }
  for (;;) {
    std::string_view payload;
    std::size_t consumed = 0;
    const auto r = internal::NextFrame(rest, payload, consumed);
    if (r == internal::FrameResult::kCorrupt) return Corrupt("bad frame checksum or length");
    if (r == internal::FrameResult::kNeedMore) break;
    if (Status st = s.Frame(payload); !st.ok()) return st;
    rest.remove_prefix(consumed);
  }
  s.buffer.erase(0, s.buffer.size() - rest.size());
  return Status::Ok();
}

Status SnapshotLoader::Impl::Frame(std::string_view payload) {
  if (trailer_seen) return Corrupt("data after the trailer");
  internal::Reader r(payload);
  std::uint8_t type = 0;
  r.U8(type);
  if (type == kFrameHeader) {
    std::string_view hist;
    if (header_seen) return Corrupt("second header");
    if (!r.Bytes(header.history.bytes.size(), hist) || !r.U64(header.seq) ||
        !r.U64(header.entries) || !r.empty())
      return Corrupt("malformed header");
    std::memcpy(header.history.bytes.data(), hist.data(), hist.size());
    if (header.history.IsZero()) return Corrupt("zero history id");
    header_seen = true;
    // Mark the store incomplete before the first entry lands, so a crash or
    // a cut stream leaves a store that Open refuses.
    return store->impl_->RunWrite(
        [&](MDB_txn* txn) {
          MDB_val k = ToVal(internal::kMetaLoading), d = ToVal("1");
          return mdb_put(txn, store->impl_->meta, &k, &d, 0);
        },
        "starting a snapshot load");
  }
  if (!header_seen) return Corrupt("entries before the header");
  if (type == kFrameEntries) return Entries(r);
  if (type == kFrameTrailer) {
    std::uint64_t entries = 0;
    if (!r.U64(entries) || !r.empty()) return Corrupt("malformed trailer");
    if (entries != header.entries || loaded != header.entries)
      return Corrupt("entry count mismatch");
    trailer_seen = true;
    return Status::Ok();
  }
  return Corrupt("unknown frame type");
}

Status SnapshotLoader::Impl::Entries(internal::Reader& r) {
  std::uint32_t count = 0;
  if (!r.U32(count)) return Corrupt("malformed entries frame");
  struct Entry {
    std::string_view key, raw;
  };
  std::vector<Entry> batch;
  std::string previous = last_key;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string_view key, raw;
    std::uint32_t vlen = 0;
    if (!r.LengthPrefixed(key) || !r.U32(vlen) ||
        !r.Bytes(vlen + std::size_t{internal::kVersionBytes}, raw))
      return Corrupt("cut entry");
    if (key.empty() || key.size() > kMaxKeyBytes) return Corrupt("bad key length");
    if (!batch.empty() || !previous.empty()) {
      if (key <= (batch.empty() ? std::string_view(previous) : batch.back().key))
        return Corrupt("keys out of order");
    }
    batch.push_back({key, raw});
  }
  if (!r.empty()) return Corrupt("trailing bytes in entries frame");
  if (batch.empty()) return Status::Ok();
  Store::Impl& st = *store->impl_;
  Status s = st.RunWrite(
      [&](MDB_txn* txn) {
        for (const Entry& e : batch) {
          // e.raw is u64 version | bytes.
          const std::string_view value = e.raw.substr(internal::kVersionBytes);
          MDB_val k = ToVal(e.key), d{internal::kValueHeaderBytes + value.size(), nullptr};
          // Sorted input: append without searching the tree.
          if (int rc = mdb_put(txn, st.kv, &k, &d, MDB_APPEND | MDB_RESERVE)) return rc;
          internal::WriteStoredValue(static_cast<char*>(d.mv_data), e.key,
                                     internal::LoadU64(e.raw.data()), value);
        }
        return MDB_SUCCESS;
      },
      "loading a snapshot");
  if (!s.ok()) return s;
  loaded += batch.size();
  // Count() reads the live-key counter: keep it true to what LMDB holds
  // after each committed chunk, also when a later chunk fails and leaves
  // the store marked incomplete (a snapshot loads only into an empty store).
  st.live_keys.store(loaded, std::memory_order_release);
  last_key.assign(batch.back().key);
  return Status::Ok();
}

Result<SnapshotHeader> SnapshotLoader::Finish() {
  Impl& s = *impl_;
  if (!s.trailer_seen || !s.buffer.empty())
    return Corrupt(s.trailer_seen ? "data after the trailer" : "the stream ended early");
  Store::Impl& st = *s.store->impl_;
  Status status = st.RunWrite(
      [&](MDB_txn* txn) {
        MDB_val lk = ToVal(internal::kMetaLoading);
        MDB_val hk = ToVal(internal::kMetaHistory);
        MDB_val hv{s.header.history.bytes.size(), s.header.history.bytes.data()};
        int rc;
        if ((rc = mdb_put(txn, st.meta, &hk, &hv, 0)) ||
            (rc = internal::PutMetaU64(txn, st.meta, internal::kMetaLastSeq, s.header.seq)) ||
            (rc = mdb_del(txn, st.meta, &lk, nullptr)))
          return rc;
        return MDB_SUCCESS;
      },
      "finishing a snapshot load");
  if (!status.ok()) return status;
  // The log starts over after the snapshot's seq (it held nothing: a
  // snapshot loads only into an empty store), under the new history.
  st.applied_seq.store(s.header.seq, std::memory_order_release);
  st.live_keys.store(s.loaded, std::memory_order_release);
  if (Status w = st.wal->Reset(s.header.seq + 1, s.header.history); !w.ok()) return w;
  st.Publish(s.header.seq, s.header.history);
  return s.header;
}

}  // namespace mehdb
