// SPDX-License-Identifier: MIT
//
// Store::Impl: the state behind mehdb::Store, shared by the files that
// implement its parts (store.cc: open and reads; group_commit.cc: the write
// path; store_log.cc: the change log and follower apply; snapshot.cc:
// backups and snapshot streams).
//
// On-disk layout: one LMDB environment in the store's directory with two
// named databases:
//   kv    key -> u64 version | u32 crc32c | value bytes (codec.h)
//   meta  "format", "history", "last_seq" (the last seq applied to LMDB),
//         and "loading" while a snapshot load is unfinished.
// and the write-ahead log in wal/ (wal.h): every acknowledged record the
// applier (applier.cc) has not committed to LMDB yet, and the retained
// change log followers read (store_log.cc). Until the applier has committed
// a record it is also in memory: `pending` (key -> newest op) for reads,
// scans and conditions, and `unapplied` (the records in seq order) for the
// applier and ReadLog.
#ifndef MEHDB_SRC_STORE_IMPL_H_
#define MEHDB_SRC_STORE_IMPL_H_

#include <lmdb.h>

#include <mehdb/store.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <thread>
#include <span>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dir_lock.h"
#include "lmdb_env.h"
#include "map_bounds.h"
#include "resize_gate.h"
#include "wal.h"

namespace mehdb {

namespace internal {

// 3: the change log is the write-ahead log's; LMDB has no "log" database.
// 2: each stored value carries a CRC-32C (codec.h), and LMDB held a copy of
// the change log. 1: no checksum. Open migrates either (migrate.cc); 1 -> 2
// records its progress under kMetaMigratedUpTo.
constexpr std::uint32_t kFormatVersion = 3;
constexpr std::uint32_t kFormatLogInLmdb = 2;
constexpr std::uint32_t kFormatNoChecksum = 1;
constexpr std::string_view kMetaFormat = "format";
constexpr std::string_view kMetaHistory = "history";
constexpr std::string_view kMetaLastSeq = "last_seq";
// Format 2's change-log bookkeeping, removed by the migration to 3.
constexpr std::string_view kMetaFirstLogSeq = "first_log_seq";
constexpr std::string_view kMetaLogBytes = "log_bytes";
constexpr std::string_view kMetaLoading = "loading";
constexpr std::string_view kMetaMigratedUpTo = "migrated_up_to";

// One caller's write waiting in the group-commit queue.
struct PendingWrite {
  const Batch* batch = nullptr;  // a local write, or:
  const HistoryId* apply_history = nullptr;  // a follower apply
  std::span<const LogRecord> apply_records;

  std::size_t bytes = 0;  // payload size, to bound a group
  Status status;
  Seq seq = 0;
  bool done = false;
  std::condition_variable cv;
  // A WriteAsync: the queue owns this write (and its batch) and the thread
  // that leads its group calls on_done with the outcome, then deletes it.
  // No thread waits on cv.
  Store::WriteDone on_done;
  std::unique_ptr<Batch> owned_batch;
};

// The newest acknowledged op on a key not yet applied to LMDB.
struct PendingOp {
  Seq seq = 0;
  // The value in its stored form (codec.h: version | crc | bytes), so a scan
  // hands it out like an LMDB value; null for an erase.
  std::shared_ptr<const std::string> stored;
};

// `op` of the write with `seq` as a pending entry (group_commit.cc).
PendingOp PendingOpFor(const LogOp& op, Seq seq);

// An acknowledged record waiting for the applier.
struct UnappliedRecord {
  Seq seq = 0;
  std::string frame;  // its change-log frame (log_codec.h)
};

// A pending entry copied out for a scan.
struct PendingItem {
  std::string key;
  PendingOp op;
};

}  // namespace internal

struct Store::Impl {
  std::string dir;
  Options options;
  // Declared before env so it is released after the environment is closed.
  internal::DirLock lock;
  MDB_env* env = nullptr;
  MDB_dbi kv = 0;
  MDB_dbi meta = 0;
  // The store format found on disk at open (kFormatVersion once migrated).
  std::uint64_t format_on_disk = 0;
  // Where the data file is mapped; every value read is checked against it.
  internal::MapBounds bounds;

  // Every transaction passes this gate; map growth closes it (see
  // resize_gate.h). It also caches reset read transactions for reuse.
  mutable internal::ResizeGate gate;

  // Committed state, mirrored from meta after each commit.
  std::atomic<Seq> last_seq{0};
  mutable std::mutex history_mu;
  HistoryId history;
  mutable std::mutex seq_mu;  // with seq_cv: wakes WaitForSeq
  mutable std::condition_variable seq_cv;
  mutable bool seq_waits_ended = false;  // guarded by seq_mu (EndSeqWaits)

  // Group commit queue (LevelDB's writer queue): the writer at the front
  // commits everything queued behind it in one transaction.
  std::mutex queue_mu;
  std::deque<internal::PendingWrite*> queue;
  // Leads the groups whose first write is a WriteAsync (no caller waits to
  // lead them). Started by the first WriteAsync; with queue_mu.
  std::thread committer;
  std::condition_variable committer_cv;
  bool committer_stop = false;
  // Calls the committed WriteAsyncs' `done`, in commit order, so that the
  // thread that led their group goes on to lead the next one at once: the
  // callbacks (a server's answers) run while the next group syncs. Started
  // with the first answer; with answer_mu.
  std::mutex answer_mu;
  std::condition_variable answer_cv;
  std::deque<std::unique_ptr<internal::PendingWrite>> answers;
  std::thread answerer;
  bool answerer_stop = false;

  // ---- write-ahead log and applier (group_commit.cc, applier.cc) ----
  std::unique_ptr<internal::Wal> wal;
  // Guards pending, unapplied, unapplied_bytes, flush_waiters,
  // applier_status, stopping.
  // The applier drops a pending entry only after its LMDB commit, so a
  // reader that misses here and then opens a read txn finds it in LMDB.
  mutable std::mutex pending_mu;
  std::map<std::string, internal::PendingOp, std::less<>> pending;
  // pending.size(), stored under pending_mu after each change: readers skip
  // the mutex while nothing is pending (a write acknowledged before a read
  // began made this non-zero before its acknowledgement; an entry removed
  // was in LMDB first).
  std::atomic<std::size_t> pending_size{0};
  // The same per key hash slot: how many pending keys hash there, changed
  // under pending_mu next to each insert and erase. A get whose slot reads
  // zero skips the mutex and the map (with the applier gathering a batch,
  // `pending` is rarely empty while writes go on; the same argument as for
  // pending_size makes the shortcut safe).
  static constexpr std::size_t kPendingSlots = std::size_t{1} << 16;
  std::unique_ptr<std::atomic<std::uint32_t>[]> pending_slots{
      new std::atomic<std::uint32_t>[kPendingSlots]()};
  std::atomic<std::uint32_t>& PendingSlot(std::string_view key) const {
    return pending_slots[std::hash<std::string_view>{}(key) & (kPendingSlots - 1)];
  }
  // Holding pending_mu: makes `op` the key's pending entry, counting a new
  // key in its slot.
  void SetPending(std::string key, internal::PendingOp op) {
    std::atomic<std::uint32_t>& slot = PendingSlot(key);
    if (pending.insert_or_assign(std::move(key), std::move(op)).second)
      slot.fetch_add(1, std::memory_order_release);
  }
  // Keys of the failed appends whose records may still be replayed
  // (Wal::InDoubt): their state is unknown until the log supersedes those
  // records or the store is reopened, so reads of them, scans over them and
  // counts answer kUnavailable rather than a state the next Open might
  // contradict. Guarded by pending_mu; doubted_size mirrors its size for
  // readers that skip the mutex.
  std::set<std::string, std::less<>> doubted;
  std::atomic<std::size_t> doubted_size{0};
  static Status DoubtedStatus(std::string_view key);
  // kUnavailable if `key` is in doubt (the mutex only while any is).
  Status CheckNotDoubted(std::string_view key) const;
  // kUnavailable if any key in doubt lies in the scan's range.
  Status CheckRangeNotDoubted(const ScanOptions& o) const;
  std::deque<internal::UnappliedRecord> unapplied;
  std::uint64_t unapplied_bytes = 0;
  // Callers waiting in Flush: the applier starts at once for them rather
  // than gathering a batch (Options::apply_delay).
  mutable std::size_t flush_waiters = 0;
  Status applier_status;   // the applier's last failure, Ok once it commits
  bool stopping = false;
  bool retry_now = false;              // a writer asks a failing applier to retry
  std::uint64_t applier_attempts_begun = 0;  // commits started
  std::uint64_t applier_attempts = 0;        // commits finished, failed or not
  // The number (in applier_attempts_begun) of the last failed commit of a
  // single record: the applier cannot get further until things change.
  std::uint64_t applier_stuck_attempt = 0;
  mutable std::condition_variable applier_cv;  // work for the applier, or stop
  // The unapplied bytes the applier waits for before it commits a batch
  // (unless Options::apply_delay ends first or a flush asks).
  std::uint64_t ApplyGatherBytes() const {
    return std::min(options.apply_batch_bytes, options.max_unapplied_bytes / 2);
  }
  mutable std::condition_variable applied_cv;  // the applier made progress
  std::thread applier;
  std::atomic<Seq> applied_seq{0};
  std::atomic<std::uint64_t> live_keys{0};  // keys present, pending included
  std::atomic<std::uint64_t> applier_commits{0};

  // Replays the log at Open and starts the applier (applier.cc).
  Status StartWal();
  void StopApplier();
  void ApplierLoop();
  // Commits records (consecutive, after applied_seq) to LMDB in one
  // transaction, recording the last as last_seq. Once committed, appends
  // the keys they touched to `keys` (if given): the frames are decoded once.
  Status ApplyRecords(std::span<const std::string* const> frames, Seq last,
                      std::vector<std::string>* keys);
  // Waits until every write acknowledged so far is in LMDB; the applier's
  // failure if it cannot get there.
  Status Flush() const;
  // A key's newest state for a reader: pending first, then LMDB.
  Result<std::optional<Value>> Lookup(std::string_view key) const;
  // The pending entries a scan over `options` needs (see scanner.cc).
  std::vector<internal::PendingItem> PendingRange(const ScanOptions& options) const;

  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> committed_writes{0};
  std::array<std::atomic<std::uint64_t>, 9> group_buckets{};
  std::atomic<std::uint64_t> map_growths{0};

  // Log holds: records after `seq` stay in the log until `until` (see
  // Options::snapshot_log_grace). One per snapshot being, or just, served.
  struct LogHold {
    Seq seq;
    std::chrono::steady_clock::time_point until;
  };
  std::mutex holds_mu;
  std::list<LogHold> holds;
  // The lowest seq an unexpired hold protects records after (UINT64_MAX if
  // none); drops expired holds.
  Seq LogHoldFloor();

  ~Impl();

  // Opens the DBIs and creates or checks the meta records (store.cc).
  int InitMeta(MDB_txn* txn, Status& verdict);
  std::uint64_t NowNs() const;
  HistoryId CurrentHistory() const;
  void Publish(Seq seq, const HistoryId& hist);

  // A pooled read transaction; holds the gate shared for its lifetime.
  class ReadTxn {
   public:
    ReadTxn(const Impl* impl, int shard, MDB_txn* txn)
        : impl_(impl), shard_(shard), txn_(txn) {}
    ReadTxn(ReadTxn&& o) noexcept
        : impl_(std::exchange(o.impl_, nullptr)),
          shard_(o.shard_),
          txn_(std::exchange(o.txn_, nullptr)) {}
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;
    ReadTxn& operator=(ReadTxn&&) = delete;
    ~ReadTxn();
    MDB_txn* get() const { return txn_; }

   private:
    const Impl* impl_;
    int shard_;
    MDB_txn* txn_;
  };
  Result<ReadTxn> BeginRead() const;

  // Runs fn in a write transaction and commits it. When the map is full it
  // aborts, grows the map and runs fn again from scratch, so fn must not
  // keep effects outside the transaction between attempts.
  Status RunWrite(const std::function<int(MDB_txn*)>& fn, std::string_view what);
  // Bytes of the map LMDB has used so far (up to its last page); the
  // caller holds the gate, as a resize changes what this reads.
  std::uint64_t MapUsedBytes() const;
  // Doubles the map, up to options.max_map_bytes.
  Status GrowMap();

  // Checks a stored value read in a read transaction before anything reads
  // its bytes: inside the mapped file, at least a header long, and matching
  // its checksum. kDataLoss naming the data file otherwise.
  Status CheckStored(std::string_view key, const MDB_val& d) const;
  // Brings a store of an older format to kFormatVersion (migrate.cc):
  // format 1 -> 2 (AddChecksums), then 2 -> 3 (DropLmdbLog).
  Status Migrate();
  Status AddChecksums();
  Status DropLmdbLog();

  // The write path (group_commit.cc).
  Result<Seq> Submit(internal::PendingWrite& w);
  void SubmitAsync(std::unique_ptr<internal::PendingWrite> w);
  // Holding `lock` (queue_mu) with queue.front() the caller's to lead:
  // commits the next group, hands the queue to the next leader and
  // completes the group's other writes. `self`: the caller's own write.
  void LeadGroup(std::unique_lock<std::mutex>& lock, const internal::PendingWrite* self);
  void CommitterLoop();
  // Hands committed async writes to the answerer thread.
  void Answer(std::vector<std::unique_ptr<internal::PendingWrite>> done);
  void AnswererLoop();
  // Commits and answers every queued write, then stops both threads.
  void StopCommitter();
  void CommitGroup(std::span<internal::PendingWrite* const> group);
  Status CheckBatch(const Batch& batch) const;
  // Whether LMDB's map, at its ceiling, still has room for the unapplied
  // records plus `more` bytes (a conservative estimate; see group_commit.cc).
  // `free_pages` caches the free-list size for the group (-1: not counted).
  bool MapHasRoom(MDB_txn* txn, std::uint64_t more, std::int64_t& free_pages) const;
  // Switches a pristine store to the leader's history before its first
  // follower apply.
  Status AdoptHistory(const HistoryId& hist);

  int ApplyOps(MDB_txn* txn, std::span<const LogOp> ops, Seq version);
  // Whether `key` is present in LMDB inside `txn`, and at which version;
  // kDataLoss for a damaged value.
  Result<std::optional<Seq>> StoredVersion(MDB_txn* txn, std::string_view key) const;
};

// Meta accessors shared by the parts.
namespace internal {
int PutMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key, std::uint64_t v);
std::uint64_t GetMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key);
}  // namespace internal

}  // namespace mehdb

#endif  // MEHDB_SRC_STORE_IMPL_H_
