// SPDX-License-Identifier: MIT
//
// File: mehdb/store.h
//
// mehdb::Store: a crash-safe, thread-safe key-value store in one directory,
// over LMDB. Every committed write gets the next sequence number and is
// recorded in the write-ahead log before it is acknowledged; that log keeps a
// bounded tail as the change log, so a follower can replay it exactly.
//
//   auto store = mehdb::Store::Open("/var/lib/mehdb");
//   if (!store.ok()) return fail(store.status());
//   auto seq = (*store)->Put("greeting", "hello");      // durable on return
//   auto value = (*store)->Get("greeting");             // optional<Value>
//
// Thread safety: every method may be called from any thread at any time.
// Writers that arrive together are group-committed: one write-ahead log
// append and one fdatasync for all of them; each caller returns when its own write is
// durable (Durability::kSync) and gets its own sequence number.
//
// Caveats (read these):
//  * Keys are 1..511 bytes (LMDB's key limit); anything else is
//    kInvalidArgument.
//  * One open Store per directory: a second Store::Open of it, from this or
//    any other process, fails with kUnavailable until the first is destroyed.
//    Never on a network filesystem (LMDB's locking needs a local one).
//  * Visitor callbacks (ForEach, ExportSnapshot) and Scanners run inside a
//    read transaction: keep them short, since a long-lived reader stops LMDB
//    from reusing pages and the file grows.
#ifndef MEHDB_STORE_H_
#define MEHDB_STORE_H_

#include <mehdb/export.h>
#include <mehdb/options.h>
#include <mehdb/replication.h>
#include <mehdb/status.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mehdb {

constexpr std::size_t kMaxKeyBytes = 511;

// A stored value and its version: the seq of the write that last set it.
// Versions are what compare-and-set (Batch::Expect) compares.
struct Value {
  std::string data;
  Seq version = 0;
};

// An atomic group of writes: all of it is applied, or none of it.
class MEHDB_EXPORT Batch {
 public:
  // Expect() versions with a special meaning.
  static constexpr Seq kAbsent = 0;               // the key must not exist
  static constexpr Seq kPresent = ~std::uint64_t{0};  // it must, any version

  Batch& Put(std::string_view key, std::string_view value);
  Batch& Erase(std::string_view key);
  // Compare-and-set: the batch applies only if `key` is at `version` when it
  // commits. Otherwise the write fails with kAborted and changes nothing.
  Batch& Expect(std::string_view key, Seq version);

  struct Condition {
    std::string key;
    Seq version;
  };
  const std::vector<LogOp>& ops() const { return ops_; }
  const std::vector<Condition>& conditions() const { return conditions_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<LogOp> ops_;
  std::vector<Condition> conditions_;
};

struct ScanOptions {
  std::string prefix;       // only keys starting with this
  std::string start_after;  // only keys strictly greater (pagination cursor)
  std::size_t limit = 0;    // at most this many; 0 = no limit
};

// One key of a scan: views into the store's memory-mapped pages, valid until
// the Scanner that produced it is destroyed. The value and its version are
// decoded when asked for, so a scan that only wants keys reads nothing else,
// and that includes the value's checksum: call Verify() before trusting
// value() or version() (ForEach and Scan do).
class ScanEntry {
 public:
  std::string_view key() const { return key_; }
  std::string_view value() const { return stored_.substr(kHeaderBytes); }
  // Checks the entry against the CRC-32C stored with it: kDataLoss when the
  // data file is damaged. The Scanner already checked that the entry lies
  // inside the file, so reading it is safe either way.
  MEHDB_EXPORT Status Verify() const;
  // The seq of the write that last set this key (stored big-endian in front
  // of the value).
  Seq version() const {
    Seq v = 0;
    for (std::size_t i = 0; i < kVersionBytes; ++i)
      v = v << 8 | static_cast<unsigned char>(stored_[i]);
    return v;
  }

 private:
  friend class Scanner;
  static constexpr std::size_t kVersionBytes = 8;
  static constexpr std::size_t kHeaderBytes = 12;  // version | crc32c
  std::string_view key_;
  std::string_view stored_;  // version | crc32c | value, at least kHeaderBytes long
};

class Store;

// An ordered scan over one read snapshot, handed out a batch of keys per call.
// Batches, not a call per key, because a full scan is bound by the cache miss
// on each key's page: on a 2-core EPYC VM a full scan runs at 20 M keys/s
// with the caller's loop inlined and at 12 M with one function call per key
// (bench/engine, "full ordered scan"). Store::ForEach wraps it.
//
// A Scanner holds a read transaction: writers go on, but the file cannot
// reuse pages the snapshot sees and map growth waits for it, so keep one for
// one scan. Not thread-safe: one scanner, one thread.
class MEHDB_EXPORT Scanner {
 public:
  Scanner(Scanner&&) noexcept;
  Scanner& operator=(Scanner&&) noexcept;
  ~Scanner();

  // The next keys in order, up to 64; an empty span when the scan is done.
  // Errors: kDataLoss (a stored value outside the data file or without its
  // header; checksums are checked by ScanEntry::Verify), kInternal.
  Result<std::span<const ScanEntry>> Next();

 private:
  friend class Store;
  struct State;
  explicit Scanner(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct ScanPage {
  std::vector<KeyValue> items;
  // True when more keys match after the last one returned; pass that key as
  // start_after to get the next page.
  bool more = false;
};

struct Stats {
  std::uint64_t entries = 0;     // keys stored
  std::uint64_t disk_bytes = 0;  // size of the data file
  std::uint64_t map_bytes = 0;   // current map size
  std::uint64_t used_bytes = 0;  // pages in use × page size
  HistoryId history;
  Seq last_seq = 0;              // newest committed (or applied) write
  Seq first_log_seq = 0;         // oldest retained log record (last_seq+1 if empty)
  std::uint64_t log_entries = 0;
  std::uint64_t log_bytes = 0;
  // Group commit: transactions committed, writes they carried, and a
  // histogram of writes per transaction with upper bounds 1,2,4,...,128,+Inf.
  std::uint64_t commits = 0;
  std::uint64_t committed_writes = 0;
  std::array<std::uint64_t, 9> group_size_buckets{};
  std::uint64_t map_growths = 0;
  // The write-ahead log: last_seq is the newest acknowledged write,
  // applied_seq the newest the applier committed to LMDB; unapplied_bytes
  // the records in between (in memory and in the log), wal_bytes the log's
  // segment files, applier_commits the applier's LMDB transactions.
  Seq applied_seq = 0;
  std::uint64_t unapplied_bytes = 0;
  std::uint64_t wal_bytes = 0;
  std::uint64_t applier_commits = 0;
};

// One chunk of a change-log read, as stored (already framed, see
// replication.h), ready to be sent to a follower verbatim.
struct LogChunk {
  HistoryId history;
  Seq first_seq = 0;  // oldest retained record
  Seq last_seq = 0;   // newest committed record
  Seq from = 0;       // seq of the first record in `frames` (if any)
  Seq to = 0;         // seq of the last record in `frames`; from-1 if none
  std::string frames;
};

class SnapshotLoader;

class MEHDB_EXPORT Store {
 public:
  // Opens (or creates, see Options::create_if_missing) the store in `dir`.
  // Errors: kInvalidArgument (bad options), kNotFound (no store and
  // !create_if_missing), kReadOnly (not writable), kNoSpace, kDataLoss (not a
  // mehdb store, a newer format, or an interrupted snapshot load),
  // kUnavailable (another Store, in this process or another, has it open: the
  // message names the holder's pid; see DIR/mehdb.lock), kInternal.
  static Result<std::unique_ptr<Store>> Open(std::string_view dir,
                                             const Options& options = {});
  virtual ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads. Not-found is std::nullopt, not an error. Every read starts an
  // LMDB read transaction, which fails with kUnavailable when all reader
  // slots are taken (or kInternal on an unexpected LMDB error).
  // Errors: kInvalidArgument (key not 1..511 bytes), kUnavailable, kDataLoss
  // (a stored value without its header), kInternal.
  Result<std::optional<Value>> Get(std::string_view key) const;
  // Number of keys, O(1). Errors: kUnavailable, kInternal.
  Result<std::uint64_t> Count() const;
  // A page of keys and values. Errors: as ForEach.
  Result<ScanPage> Scan(const ScanOptions& options) const;
  // Calls fn(key, value, version) -> bool for each matching key in order,
  // inside one read transaction (views are valid only during the call); stop
  // early by returning false. A template so the call inlines (see Scanner).
  // Errors: as NewScanner and Scanner::Next.
  template <typename Visitor>
  Status ForEach(const ScanOptions& options, Visitor&& fn) const;
  // The scan ForEach runs, for callers that want to pull keys themselves.
  // Errors: kUnavailable, kInternal.
  Result<Scanner> NewScanner(const ScanOptions& options) const;
  // Errors: kUnavailable, kInternal.
  Result<Stats> GetStats() const;

  // Writes. Each returns the seq of the write once it is committed (and on
  // disk with Durability::kSync). Errors: kInvalidArgument (key not 1..511
  // bytes), kValueTooLarge, kResourceExhausted (map ceiling), kNoSpace,
  // kReadOnly, kDataLoss (the disk failed a write: EIO), kUnavailable (LMDB
  // busy), kInternal.
  Result<Seq> Put(std::string_view key, std::string_view value);
  // Erasing a missing key is not an error: it still commits a (no-op) write.
  // Errors: as Put (less kValueTooLarge).
  Result<Seq> Erase(std::string_view key);
  // Errors: as Put, and kInvalidArgument for an empty batch, kAborted when
  // an Expect() did not hold (nothing of the batch is written).
  Result<Seq> Write(const Batch& batch);

  // Write without a waiting thread: `done` is called once with what Write
  // would answer. A batch that fails the checks made before queueing (keys,
  // value sizes, an empty batch) is answered at once, on the calling thread;
  // otherwise `done` runs on the store's answering thread, once the write
  // is acknowledged as Write's would be, in commit order (the thread that
  // committed the group goes on to the next group meanwhile). `done` should
  // be quick: the answers after it wait. It may read from the store and may
  // call WriteAsync; it must not call the blocking writes (Put, Erase,
  // Write). A server that
  // answers requests from an event loop uses this so that thousands of
  // writes in flight take no thread each. Destroying the store answers
  // every queued write first.
  using WriteDone = std::function<void(Result<Seq>)>;
  void WriteAsync(Batch batch, WriteDone done);

  // Blocks until last_seq >= seq or the timeout passes, or returns at once
  // after EndSeqWaits(); answers last_seq.
  Seq WaitForSeq(Seq seq, std::chrono::milliseconds timeout) const;
  // Makes every WaitForSeq, in progress or later, return at once (with the
  // current last_seq): for a store being replaced, whose sequence will not
  // move again, so that its waiters turn to its successor without sitting
  // out their timeouts.
  void EndSeqWaits() const;
  Seq LastSeq() const;
  HistoryId History() const;

  // Waits until LMDB holds every write acknowledged before the call: the
  // applier commits the write-ahead log's records at once rather than after
  // Options::apply_delay. Writes are durable when acknowledged without this;
  // it is for callers about to copy or inspect the data file itself.
  // Errors: the applier's failure (kNoSpace, kResourceExhausted, kReadOnly,
  // kDataLoss), kUnavailable (the store is closing).
  Status Flush() const;

  // A consistent copy of the whole store (compacted) into `dir`, which must
  // not exist or be empty; safe while writers run. The copy opens as a normal
  // store with the same history and seq. Errors: kFailedPrecondition (`dir`
  // is not empty), kReadOnly, kNoSpace, kNotFound, kDataLoss (EIO),
  // kUnavailable, kInternal.
  Status Backup(std::string_view dir) const;
  // The same consistent copy written as one LMDB data file to `fd` (a file,
  // pipe or socket; written sequentially, not closed). Placed as data.mdb in
  // an empty directory it opens as a store. Errors: kNoSpace, kReadOnly,
  // kDataLoss (EIO), kInvalidArgument (a bad fd), kUnavailable, kInternal
  // (a closed pipe or socket: EPIPE and the like).
  Status BackupToFd(int fd) const;

  // The change log after `after` (records after+1, ...), at most `max_bytes`
  // of frames but always at least one record if any exists. Errors:
  // kOutOfRange when after+1 is older than the retained log (the reader must
  // load a snapshot) or after > last_seq; kDataLoss when a record in range
  // is missing or damaged; kUnavailable, kInternal.
  Result<LogChunk> ReadLog(Seq after, std::size_t max_bytes) const;

  // Follower side: applies `records` in one transaction together with the
  // new applied seq and `history`. The first record must be last_seq+1 and
  // the rest consecutive; `history` must equal this store's history, unless
  // the store is pristine (seq 0, no keys), which then adopts it. Otherwise
  // kFailedPrecondition and nothing is written. Errors: that,
  // kInvalidArgument (no records, a zero history, records not consecutive,
  // a key not 1..511 bytes), and the write errors of Put.
  Result<Seq> Apply(const HistoryId& history,
                    std::span<const LogRecord> records);

  // Streams a consistent snapshot (one read transaction) to `sink` in chunks
  // of about chunk_bytes. Errors: kAborted (the sink returned false),
  // kDataLoss (a stored value without its header), kUnavailable, kInternal.
  Status ExportSnapshot(const std::function<bool(std::string_view)>& sink,
                        std::size_t chunk_bytes = 1 << 20) const;

 private:
  friend class SnapshotLoader;
  friend class Scanner;
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

template <typename Visitor>
Status Store::ForEach(const ScanOptions& options, Visitor&& fn) const {
  Result<Scanner> scanner = NewScanner(options);
  if (!scanner.ok()) return scanner.status();
  for (;;) {
    Result<std::span<const ScanEntry>> batch = scanner->Next();
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return Status::Ok();
    for (const ScanEntry& e : *batch) {
      if (Status s = e.Verify(); !s.ok()) return s;
      if (!fn(e.key(), e.value(), e.version())) return Status::Ok();
    }
  }
}

// Loads a snapshot stream into a pristine store (seq 0, no keys), feeding
// the bytes as they arrive. Data is committed in chunks; until Finish()
// succeeds the store is marked incomplete and Store::Open refuses it
// (kDataLoss), so a cut stream never passes for a good copy.
// Not thread-safe: one loader, one thread.
class MEHDB_EXPORT SnapshotLoader {
 public:
  // Errors: kFailedPrecondition (the store is not pristine), and Count()'s.
  static Result<std::unique_ptr<SnapshotLoader>> Begin(Store& store);
  ~SnapshotLoader();
  // Errors: kDataLoss on a bad magic, format, frame or checksum; the write
  // errors of Store::Put.
  Status Feed(std::string_view bytes);
  // Checks the trailer and commits the history and seq. Errors: kDataLoss
  // (the stream ended early, or bytes follow the trailer); the write errors
  // of Store::Put.
  Result<SnapshotHeader> Finish();

 private:
  struct Impl;
  explicit SnapshotLoader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mehdb

#endif  // MEHDB_STORE_H_
