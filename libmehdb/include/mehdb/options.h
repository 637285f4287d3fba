// SPDX-License-Identifier: MIT
//
// File: mehdb/options.h
//
// Options for opening a store. A plain struct with documented defaults, so
// new knobs never change a function signature.
#ifndef MEHDB_OPTIONS_H_
#define MEHDB_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace mehdb {

enum class Durability {
  // A write returns only after it is on disk (fsync). Concurrent writers are
  // group-committed: they share one transaction and one sync.
  kSync,
  // Writes return once committed to the OS page cache. A crash of the machine
  // (not of the process) can lose the last writes; the store stays intact.
  kNoSync,
};

struct Options {
  // Initial size of the memory map. The map grows by doubling when a write
  // needs more room (LMDB MDB_MAP_FULL), up to max_map_bytes.
  std::uint64_t map_bytes = std::uint64_t{64} << 20;
  // Ceiling for map growth; a write that would need more fails with
  // kResourceExhausted. It bounds address space, not disk (the file only
  // grows as data is written).
  std::uint64_t max_map_bytes = std::uint64_t{16} << 30;
  Durability durability = Durability::kSync;
  // The write-ahead log (see README "The write path"): a write is
  // acknowledged once its record is in the log (synced, under kSync); a
  // background applier then commits records to LMDB in large transactions.
  // Segment files of the log are this big (a larger group still fits).
  std::uint64_t wal_segment_bytes = std::uint64_t{64} << 20;
  // Writers wait while records logged but not yet applied to LMDB take more
  // than this (their in-memory index and the log's size are bounded by it).
  std::uint64_t max_unapplied_bytes = std::uint64_t{128} << 20;
  // The applier commits at most this many bytes of records per transaction.
  // Larger batches share more leaf pages between writes but raise the data
  // file's high-water mark: LMDB copies every page a transaction dirties and
  // reuses the old ones only after it commits (100k x 1 KiB, random
  // overwrites: 32 MiB batches left 173 MB of free pages in the file, 8 MiB
  // 84 MB, 1 MiB 14 MB; durable puts within noise of each other at 8 and 32).
  std::uint64_t apply_batch_bytes = std::uint64_t{8} << 20;
  // Once records wait, the applier lets more gather for this long before it
  // commits them, so one LMDB transaction (and its two syncs) covers many
  // writes and a leaf page written several times is written once; its page
  // writes then compete less with the log's syncs for the disk. It starts
  // at once when apply_batch_bytes are waiting, when writers near
  // max_unapplied_bytes, or when something waits for LMDB to hold every
  // write (backups, snapshots, close). Reads do not wait for it.
  std::chrono::milliseconds apply_delay{200};
  // Largest accepted value; larger writes fail with kValueTooLarge.
  std::size_t max_value_bytes = std::size_t{16} << 20;
  // The change log (the write-ahead log's retained records) keeps at least
  // the last log_retain_entries records and at most log_retain_bytes of them
  // (whichever keeps fewer). Followers further behind must load a snapshot.
  // Its segment files hold up to about an eighth more; each retained record
  // also costs 8 bytes of memory.
  std::uint64_t log_retain_entries = 100000;
  std::uint64_t log_retain_bytes = std::uint64_t{256} << 20;
  // While a snapshot is exported, and for this long after it ends, the log
  // keeps every record after the snapshot's seq even beyond
  // log_retain_entries, so the follower loading it can resume from the log
  // instead of needing another snapshot (the snapshot -> too old -> snapshot
  // loop of busy Redis replicas). log_retain_bytes still caps the log.
  std::chrono::milliseconds snapshot_log_grace{std::chrono::minutes(5)};
  // Concurrent read transactions (LMDB reader slots). Size it above the
  // number of threads that read at once (HTTP pool + peers + margin).
  unsigned max_readers = 256;
  // Create the directory (and parents) and a new store if none exists.
  bool create_if_missing = true;
  // Clock for the commit time stored in each log record (nanoseconds since
  // the Unix epoch). Tests inject a fake one; empty means the system clock.
  std::function<std::uint64_t()> now_ns;
};

}  // namespace mehdb

#endif  // MEHDB_OPTIONS_H_
