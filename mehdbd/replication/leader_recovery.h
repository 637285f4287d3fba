// SPDX-License-Identifier: MIT
//
// LeaderRecovery: a leader that starts on an empty store (a lost or wiped
// volume) must not begin a new history while its followers hold the old
// one. Until it has decided:
//
//   * its peer port answers every follower's poll with 503 and reason
//     leader-recovering (protocol.h), after noting the poll's history, seq
//     and the follower's own peer URL (X-Mehdb-Peer-Url); followers keep
//     polling every 0.5 s and keep serving reads;
//   * its client port answers /readyz, writes and reads of data with 503
//     and Retry-After (the store it would read is empty, not the data).
//
// It decides as soon as a follower holding data has polled and `settle`
// has passed for the others to show up: it loads a snapshot from the one
// with the highest seq (snapshot_fetch.h), keeping that history id, so
// followers at that seq simply stream on. A failed transfer tries the next.
// With nobody holding data after `wait` (mode kAuto) it starts a new
// history; kFollowers waits however long; kFresh never waits (nor does a
// leader whose store holds data: it is not in recovery at all).
//
// Thread safety: Offer/Active from any thread; Start/Stop from one.
#ifndef MEHDBD_REPLICATION_LEADER_RECOVERY_H_
#define MEHDBD_REPLICATION_LEADER_RECOVERY_H_

#include <mehdb/replication.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "store/store_handle.h"
#include "tls/client.h"
#include "base/token_file.h"

namespace mehdbd::replication {

struct LeaderRecoveryOptions {
  Config::LeaderRecovery mode = Config::LeaderRecovery::kAuto;
  std::chrono::milliseconds wait{10000};   // kAuto: then start fresh
  // After the first offer, for the others: a follower that backed off
  // while the leader was down polls again within its backoff_max (5 s).
  std::chrono::milliseconds settle{6000};
  std::string name;                        // this pod, sent to followers
  tls::ClientTls tls;                      // for https:// follower URLs
  const TokenFile* token = nullptr;        // sent as Bearer; may be null
};

class LeaderRecovery {
 public:
  LeaderRecovery(StoreHandle& stores, LeaderRecoveryOptions options);
  ~LeaderRecovery();
  LeaderRecovery(const LeaderRecovery&) = delete;
  LeaderRecovery& operator=(const LeaderRecovery&) = delete;

  // True until the leader has decided (always false when the store held
  // data at construction or the mode is kFresh).
  bool Active() const { return active_.load(std::memory_order_acquire); }
  // A follower's poll while Active(): it holds `history` up to `seq` and
  // serves snapshots at `peer_url`. Offers without data or without a
  // usable URL are ignored.
  void Offer(const std::string& follower, const std::string& history, std::uint64_t seq,
             const std::string& peer_url);
  // Decides on a background thread (no-op when not Active()).
  void Start();
  void Stop();

 private:
  struct Candidate {
    mehdb::HistoryId history;
    std::uint64_t seq = 0;
    std::string peer_url;
  };
  void Run();
  // Loads `from`'s snapshot; false (logged) when the transfer failed.
  bool LoadFrom(const std::string& follower, const Candidate& from);

  StoreHandle& stores_;
  const LeaderRecoveryOptions options_;
  std::atomic<bool> active_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Candidate> candidates_;  // by follower name
  std::thread thread_;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_LEADER_RECOVERY_H_
