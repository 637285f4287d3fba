// SPDX-License-Identifier: MIT
#include "resize_gate.h"

#include <thread>

namespace mehdb::internal {
namespace {

int ThisThreadShard() {
  static std::atomic<int> next{0};
  thread_local const int shard = next.fetch_add(1, std::memory_order_relaxed) %
                                 ResizeGate::kShards;
  return shard;
}

}  // namespace

int ResizeGate::Enter() {
  const int s = ThisThreadShard();
  for (;;) {
    // Dekker-style handshake with lock(): a reader announces itself, then
    // checks the flag; the resizer raises the flag, then checks the counts.
    // Sequentially consistent order guarantees one of them sees the other.
    shards_[s].inside.fetch_add(1, std::memory_order_seq_cst);
    if (!closed_.load(std::memory_order_seq_cst)) return s;
    shards_[s].inside.fetch_sub(1, std::memory_order_seq_cst);
    std::unique_lock lock(wait_mu_);
    reopened_.wait(lock, [&] { return !closed_.load(std::memory_order_seq_cst); });
  }
}

void ResizeGate::Exit(int shard) {
  shards_[shard].inside.fetch_sub(1, std::memory_order_release);
}

void ResizeGate::lock() {
  exclusive_mu_.lock();
  closed_.store(true, std::memory_order_seq_cst);
  for (Shard& s : shards_)
    while (s.inside.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

void ResizeGate::unlock() {
  {
    std::lock_guard lock(wait_mu_);
    closed_.store(false, std::memory_order_seq_cst);
  }
  reopened_.notify_all();
  exclusive_mu_.unlock();
}

MDB_txn* ResizeGate::TakeCached(int shard) {
  return shards_[shard].cached.exchange(nullptr, std::memory_order_acquire);
}

bool ResizeGate::Cache(int shard, MDB_txn* txn) {
  MDB_txn* expected = nullptr;
  return shards_[shard].cached.compare_exchange_strong(expected, txn, std::memory_order_release);
}

void ResizeGate::DrainCached() {
  for (Shard& s : shards_)
    if (MDB_txn* txn = s.cached.exchange(nullptr, std::memory_order_acquire)) mdb_txn_abort(txn);
}

}  // namespace mehdb::internal
