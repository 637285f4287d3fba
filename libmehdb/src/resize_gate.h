// SPDX-License-Identifier: MIT
//
// ResizeGate: LMDB may only resize its map while no transaction of this
// process is open. Every transaction passes the gate shared; growing the map
// closes it exclusively. Readers are the hot path (a get is ~1 µs), so the
// shared side is sharded: each thread counts itself in its own cache line
// and a reader never touches a line another thread writes. The exclusive
// side is rare (the map doubles) and may wait.
//
// Each shard also keeps one reset read transaction for reuse:
// mdb_txn_renew is much cheaper than mdb_txn_begin, which under MDB_NOTLS
// takes LMDB's reader-table mutex.
//
// Not re-entrant: a thread must not pass the gate again while inside it (a
// waiting resize would deadlock with it).
#ifndef MEHDB_SRC_RESIZE_GATE_H_
#define MEHDB_SRC_RESIZE_GATE_H_

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace mehdb::internal {

class ResizeGate {
 public:
  static constexpr int kShards = 32;

  ResizeGate() = default;
  ResizeGate(const ResizeGate&) = delete;
  ResizeGate& operator=(const ResizeGate&) = delete;

  // Shared side: Enter returns the shard to pass to Exit.
  int Enter();
  void Exit(int shard);
  // Exclusive side (BasicLockable, for std::lock_guard).
  void lock();
  void unlock();

  // The shard's cached reset read transaction, or nullptr.
  MDB_txn* TakeCached(int shard);
  // Caches txn in the shard; false if it already holds one.
  bool Cache(int shard, MDB_txn* txn);
  // Aborts every cached transaction (before a resize or close).
  void DrainCached();

 private:
  struct alignas(64) Shard {
    std::atomic<int> inside{0};
    std::atomic<MDB_txn*> cached{nullptr};
  };
  Shard shards_[kShards];
  std::atomic<bool> closed_{false};
  std::mutex exclusive_mu_;  // one resizer at a time
  std::mutex wait_mu_;       // with reopened_: readers wait out a resize
  std::condition_variable reopened_;
};

// Shared passage as an RAII guard.
class GateGuard {
 public:
  explicit GateGuard(ResizeGate& gate) : gate_(gate), shard_(gate.Enter()) {}
  ~GateGuard() { gate_.Exit(shard_); }
  GateGuard(const GateGuard&) = delete;
  GateGuard& operator=(const GateGuard&) = delete;

 private:
  ResizeGate& gate_;
  int shard_;
};

}  // namespace mehdb::internal

#endif  // MEHDB_SRC_RESIZE_GATE_H_
