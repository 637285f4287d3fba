// SPDX-License-Identifier: MIT
//
// Opening a store, the read path (scans are in scanner.cc), stats, and the
// transaction plumbing (pooled readers, map growth) the other parts share.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "codec.h"
#include "file_length.h"
#include "store_impl.h"

namespace mehdb {

using internal::LmdbStatus;
using internal::ToVal;
using internal::ToView;

namespace internal {

int PutMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key, std::uint64_t v) {
  std::string buf;
  PutU64(buf, v);
  MDB_val k = ToVal(key), d = ToVal(buf);
  return mdb_put(txn, meta, &k, &d, 0);
}

std::uint64_t GetMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key) {
  MDB_val k = ToVal(key), d;
  if (mdb_get(txn, meta, &k, &d) != MDB_SUCCESS || d.mv_size != 8) return 0;
  return LoadU64(static_cast<const char*>(d.mv_data));
}

}  // namespace internal

// ---- Impl plumbing ---------------------------------------------------------

Store::Impl::~Impl() {
  // Answers every WriteAsync still queued (the committer leads them), then
  // drains the applier: every acknowledged write reaches LMDB (unless its
  // commits fail; then the log keeps them for the next Open).
  StopCommitter();
  StopApplier();
  gate.DrainCached();
  if (env != nullptr) mdb_env_close(env);
}

std::uint64_t Store::Impl::NowNs() const {
  if (options.now_ns) return options.now_ns();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

HistoryId Store::Impl::CurrentHistory() const {
  std::lock_guard lock(history_mu);
  return history;
}

void Store::Impl::Publish(Seq seq, const HistoryId& hist) {
  {
    std::lock_guard lock(history_mu);
    history = hist;
  }
  {
    // Under seq_mu so a waiter cannot miss the wake-up between its check
    // and its wait.
    std::lock_guard lock(seq_mu);
    last_seq.store(seq, std::memory_order_release);
  }
  seq_cv.notify_all();
}

Store::Impl::ReadTxn::~ReadTxn() {
  if (impl_ == nullptr) return;
  mdb_txn_reset(txn_);
  if (!impl_->gate.Cache(shard_, txn_)) mdb_txn_abort(txn_);
  impl_->gate.Exit(shard_);
}

Result<Store::Impl::ReadTxn> Store::Impl::BeginRead() const {
  const int shard = gate.Enter();
  MDB_txn* txn = gate.TakeCached(shard);
  int rc = txn != nullptr ? mdb_txn_renew(txn)
                          : mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) {
    if (txn != nullptr) mdb_txn_abort(txn);
    gate.Exit(shard);
    return LmdbStatus(rc, "starting a read transaction");
  }
  return ReadTxn(this, shard, txn);
}

Status Store::Impl::GrowMap() {
  std::lock_guard lock(gate);
  MDB_envinfo info;
  mdb_env_info(env, &info);
  const std::uint64_t current = info.me_mapsize;
  if (current >= options.max_map_bytes)
    return Status(Code::kResourceExhausted,
                  "the store reached its map size ceiling (max_map_bytes = " +
                      std::to_string(options.max_map_bytes) + ")",
                  MDB_MAP_FULL);
  const std::uint64_t next = std::min(current * 2, options.max_map_bytes);
  gate.DrainCached();  // no transaction of ours may be open across a resize
  if (int rc = mdb_env_set_mapsize(env, next); rc != MDB_SUCCESS)
    return LmdbStatus(rc, "growing the map");
  // LMDB mapped the file anew, likely elsewhere.
  mdb_filehandle_t fd;
  mdb_env_get_fd(env, &fd);
  if (Status s = bounds.Locate(fd, bounds.file()); !s.ok()) return s;
  map_growths.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Status Store::Impl::RunWrite(const std::function<int(MDB_txn*)>& fn,
                             std::string_view what) {
  for (;;) {
    int rc;
    {
      internal::GateGuard pass(gate);
      MDB_txn* raw = nullptr;
      rc = mdb_txn_begin(env, nullptr, 0, &raw);
      if (rc != MDB_SUCCESS) return internal::WriteFailureStatus(rc, what, dir);
      internal::Txn txn(raw);
      rc = fn(txn.get());
      if (rc == MDB_SUCCESS) rc = txn.Commit();
    }
    if (rc == MDB_MAP_FULL) {
      if (Status s = GrowMap(); !s.ok()) return s;
      continue;
    }
    return internal::WriteFailureStatus(rc, what, dir);
  }
}

Status Store::Impl::CheckStored(std::string_view key, const MDB_val& d) const {
  const char* why = nullptr;
  if (!bounds.Contains(d.mv_data, d.mv_size))
    why = "lies outside the data file (a damaged size or page)";
  else if (d.mv_size < internal::kValueHeaderBytes)
    why = "is shorter than its header";
  else if (!internal::StoredValueIntact(key, ToView(d)))
    why = "does not match its checksum";
  if (why == nullptr) [[likely]]
    return Status::Ok();
  return Status(Code::kDataLoss, std::string("a stored value of ") +
                                     std::to_string(key.size()) + "-byte key " + why + ": " +
                                     bounds.file() + " is damaged");
}

// ---- Open ------------------------------------------------------------------

namespace {

Status ValidateOptions(const Options& o) {
  if (o.map_bytes == 0 || o.max_map_bytes < o.map_bytes)
    return Status(Code::kInvalidArgument, "options: need 0 < map_bytes <= max_map_bytes");
  if (o.max_readers < 4) return Status(Code::kInvalidArgument, "options: max_readers < 4");
  if (o.max_value_bytes == 0 || o.max_value_bytes > (std::size_t{1} << 30))
    return Status(Code::kInvalidArgument, "options: max_value_bytes must be 1 B .. 1 GiB");
  if (o.log_retain_entries == 0)
    return Status(Code::kInvalidArgument, "options: log_retain_entries must be > 0");
  return Status::Ok();
}

Status PrepareDir(const std::string& dir, bool create) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status::Ok();
  if (std::filesystem::exists(dir, ec))
    return Status(Code::kInvalidArgument, "not a directory: " + dir);
  if (!create) return Status(Code::kNotFound, "no store at " + dir);
  std::filesystem::create_directories(dir, ec);
  if (ec) return internal::LmdbStatus(ec.value(), "creating " + dir);
  return Status::Ok();
}

// Opens the DBIs and creates or checks the meta records, in one write txn.
// A store we must refuse sets `verdict` and aborts the txn with
// MDB_INCOMPATIBLE, so nothing is written into a foreign environment.
}  // namespace

int Store::Impl::InitMeta(MDB_txn* txn, Status& verdict) {
  Impl& impl = *this;
  int rc;
  if ((rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &impl.kv)) ||
      (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &impl.meta)))
    return rc;
  MDB_val k = ToVal(internal::kMetaFormat), d;
  rc = mdb_get(txn, impl.meta, &k, &d);
  if (rc == MDB_NOTFOUND) {
    MDB_stat st;
    mdb_stat(txn, impl.kv, &st);
    if (st.ms_entries != 0) {
      verdict = Status(Code::kDataLoss, "keys without a format record: not a mehdb store");
      return MDB_INCOMPATIBLE;
    }
    HistoryId hist = HistoryId::Random();
    MDB_val hk = ToVal(internal::kMetaHistory);
    MDB_val hv{hist.bytes.size(), hist.bytes.data()};
    if ((rc = internal::PutMetaU64(txn, impl.meta, internal::kMetaFormat,
                                   internal::kFormatVersion)) ||
        (rc = mdb_put(txn, impl.meta, &hk, &hv, 0)) ||
        (rc = internal::PutMetaU64(txn, impl.meta, internal::kMetaLastSeq, 0)))
      return rc;
  } else if (rc != MDB_SUCCESS) {
    return rc;
  }
  const std::uint64_t format = internal::GetMetaU64(txn, impl.meta, internal::kMetaFormat);
  impl.format_on_disk = format;
  if (format != internal::kFormatVersion && format != internal::kFormatLogInLmdb &&
      format != internal::kFormatNoChecksum) {
    verdict = Status(Code::kDataLoss,
                     "unsupported store format " + std::to_string(format));
    return MDB_INCOMPATIBLE;
  }
  MDB_val lk = ToVal(internal::kMetaLoading);
  if (mdb_get(txn, impl.meta, &lk, &d) == MDB_SUCCESS) {
    verdict = Status(Code::kDataLoss,
                     "an interrupted snapshot load left this store incomplete");
    return MDB_INCOMPATIBLE;
  }
  MDB_val hk = ToVal(internal::kMetaHistory);
  if ((rc = mdb_get(txn, impl.meta, &hk, &d)) != MDB_SUCCESS) return rc;
  if (d.mv_size != impl.history.bytes.size()) {
    verdict = Status(Code::kDataLoss, "malformed history record");
    return MDB_INCOMPATIBLE;
  }
  std::memcpy(impl.history.bytes.data(), d.mv_data, d.mv_size);
  impl.last_seq = internal::GetMetaU64(txn, impl.meta, internal::kMetaLastSeq);
  return MDB_SUCCESS;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(std::string_view dir_view,
                                           const Options& options) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->dir = std::string(dir_view);
  impl->options = options;
  if (Status s = PrepareDir(impl->dir, options.create_if_missing); !s.ok()) return s;
  if (!options.create_if_missing &&
      !std::filesystem::exists(std::filesystem::path(impl->dir) / "data.mdb"))
    return Status(Code::kNotFound, "no store at " + impl->dir);
  // Before LMDB sees the directory: a second opener must not touch it.
  if (Status s = impl->lock.Acquire(impl->dir); !s.ok()) return s;

  int rc = mdb_env_create(&impl->env);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "creating the environment");
  // An existing file may be larger than map_bytes: LMDB then adopts the
  // file's size, which is what we want.
  mdb_env_set_mapsize(impl->env, options.map_bytes);
  mdb_env_set_maxdbs(impl->env, 4);
  mdb_env_set_maxreaders(impl->env, options.max_readers);
  // MDB_NOTLS: readers are tied to transactions, not threads, because the
  // daemon serves requests from a thread pool. MDB_NOSYNC only when asked.
  unsigned flags = MDB_NOTLS;
  if (options.durability == Durability::kNoSync) flags |= MDB_NOSYNC;
  const std::string data_file = impl->dir + "/data.mdb";
  // LMDB takes an empty data file for a new environment and would start an
  // empty store over it; a store's file is never empty once created.
  std::error_code size_ec;
  if (std::filesystem::exists(data_file, size_ec) &&
      std::filesystem::file_size(data_file, size_ec) == 0 && !size_ec)
    return Status(Code::kDataLoss,
                  data_file + " is empty: the store's data is lost (if it never finished "
                              "its first open, remove the directory)");
  rc = mdb_env_open(impl->env, impl->dir.c_str(), flags, 0640);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "opening the store in " + data_file);
  if (Status s = internal::CheckFileLength(impl->env, data_file); !s.ok()) return s;
  mdb_filehandle_t fd;
  mdb_env_get_fd(impl->env, &fd);
  if (Status s = impl->bounds.Locate(fd, data_file); !s.ok()) return s;
  // Clear reader slots left by crashed processes; they would pin old pages.
  int dead = 0;
  mdb_reader_check(impl->env, &dead);

  Status verdict;
  Status s = impl->RunWrite(
      [&](MDB_txn* txn) { return impl->InitMeta(txn, verdict); },
      "initialising the store in " + impl->dir);
  if (!verdict.ok()) return verdict;
  if (!s.ok()) return s;
  if (impl->format_on_disk != internal::kFormatVersion)
    if (Status m = impl->Migrate(); !m.ok()) return m;
  // Replays the write-ahead log into LMDB and starts the applier.
  if (Status w = impl->StartWal(); !w.ok()) return w;
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

// ---- Reads -----------------------------------------------------------------

Status Store::Impl::DoubtedStatus(std::string_view key) {
  return Status(Code::kUnavailable,
                "the last write to key '" + std::string(key) +
                    "' failed as the volume failed, and whether it reached the disk is "
                    "unknown until the store is reopened");
}

Status Store::Impl::CheckNotDoubted(std::string_view key) const {
  if (doubted_size.load(std::memory_order_acquire) == 0) return Status::Ok();
  std::lock_guard lock(pending_mu);
  if (doubted.find(key) == doubted.end()) return Status::Ok();
  return DoubtedStatus(key);
}

Result<std::optional<Value>> Store::Impl::Lookup(std::string_view key) const {
  if (Status s = CheckNotDoubted(key); !s.ok()) return s;
  if (PendingSlot(key).load(std::memory_order_acquire) != 0) {
    std::lock_guard lock(pending_mu);
    if (auto it = pending.find(key); it != pending.end()) {
      if (!it->second.stored) return std::optional<Value>();
      const std::string& stored = *it->second.stored;
      return std::optional<Value>(
          Value{stored.substr(internal::kValueHeaderBytes), it->second.seq});
    }
  }
  // Not pending: applied before this txn starts (see pending_mu).
  auto txn = BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_val k = ToVal(key), d;
  int rc = mdb_get(txn->get(), kv, &k, &d);
  if (rc == MDB_NOTFOUND) return std::optional<Value>();
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "reading a key");
  if (Status s = CheckStored(key, d); !s.ok()) return s;
  std::string_view raw = ToView(d);
  return std::optional<Value>(Value{std::string(raw.substr(internal::kValueHeaderBytes)),
                                    internal::LoadU64(raw.data())});
}

Result<std::optional<Value>> Store::Get(std::string_view key) const {
  if (key.empty() || key.size() > kMaxKeyBytes)
    return Status(Code::kInvalidArgument, "key must be 1..511 bytes");
  return impl_->Lookup(key);
}

Result<std::uint64_t> Store::Count() const {
  if (impl_->doubted_size.load(std::memory_order_acquire) != 0)
    return Status(Code::kUnavailable,
                  "the count is unknown until the store is reopened: writes failed as the "
                  "volume failed, and whether they reached the disk is unknown");
  return impl_->live_keys.load(std::memory_order_acquire);
}

Status Store::Flush() const { return impl_->Flush(); }

Result<ScanPage> Store::Scan(const ScanOptions& options) const {
  ScanPage page;
  ScanOptions probe = options;
  if (probe.limit != 0) ++probe.limit;  // one extra tells whether more follow
  Status s = ForEach(probe, [&](std::string_view k, std::string_view v, Seq ver) {
    if (options.limit != 0 && page.items.size() == options.limit) {
      page.more = true;
      return false;
    }
    page.items.push_back({std::string(k), Value{std::string(v), ver}});
    return true;
  });
  if (!s.ok()) return s;
  return page;
}

Result<Stats> Store::GetStats() const {
  Stats st;
  {
    auto txn = impl_->BeginRead();
    if (!txn.ok()) return txn.status();
    MDB_envinfo info;
    MDB_stat env_st;
    mdb_env_info(impl_->env, &info);
    mdb_env_stat(impl_->env, &env_st);
    st.map_bytes = info.me_mapsize;
    st.used_bytes = (info.me_last_pgno + 1) * std::uint64_t{env_st.ms_psize};
  }
  st.entries = impl_->live_keys.load(std::memory_order_acquire);
  st.last_seq = impl_->last_seq.load(std::memory_order_acquire);
  st.applied_seq = impl_->applied_seq.load(std::memory_order_acquire);
  {
    std::lock_guard lock(impl_->pending_mu);
    st.unapplied_bytes = impl_->unapplied_bytes;
  }
  st.wal_bytes = impl_->wal->Bytes();
  const internal::Wal::Retained log = impl_->wal->Info();
  st.first_log_seq = log.first;
  st.log_entries = log.entries;
  st.log_bytes = log.bytes;
  st.applier_commits = impl_->applier_commits.load(std::memory_order_relaxed);
  st.history = impl_->CurrentHistory();
  struct stat file;
  if (::stat((impl_->dir + "/data.mdb").c_str(), &file) == 0)
    st.disk_bytes = static_cast<std::uint64_t>(file.st_size);
  st.commits = impl_->commits.load(std::memory_order_relaxed);
  st.committed_writes = impl_->committed_writes.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < st.group_size_buckets.size(); ++i)
    st.group_size_buckets[i] = impl_->group_buckets[i].load(std::memory_order_relaxed);
  st.map_growths = impl_->map_growths.load(std::memory_order_relaxed);
  return st;
}

Seq Store::LastSeq() const { return impl_->last_seq.load(std::memory_order_acquire); }
HistoryId Store::History() const { return impl_->CurrentHistory(); }

Seq Store::WaitForSeq(Seq seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->seq_mu);
  impl_->seq_cv.wait_for(lock, timeout, [&] {
    return impl_->last_seq.load(std::memory_order_acquire) >= seq || impl_->seq_waits_ended;
  });
  return impl_->last_seq.load(std::memory_order_acquire);
}

void Store::EndSeqWaits() const {
  {
    std::lock_guard lock(impl_->seq_mu);
    impl_->seq_waits_ended = true;
  }
  impl_->seq_cv.notify_all();
}

}  // namespace mehdb
