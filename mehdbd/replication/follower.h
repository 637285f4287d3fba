// SPDX-License-Identifier: MIT
//
// Follower: the loop that keeps a follower's store equal to its leader's.
//
//   new or wiped store ........ load a snapshot beside the live store, swap
//   streaming ................. long-poll the log after the applied seq,
//                               verify, apply the whole batch in one
//                               transaction with its seq, repeat
//   410 (log trimmed) ......... snapshot again, then stream
//   409 (other history, or the leader is behind us)
//                               stop applying and stay not ready; snapshot
//                               only when resnapshot_on_mismatch is set
//   503 leader-recovering (the leader lost its volume, leader_recovery.h)
//                               poll again every 0.5 s: each poll tells
//                               it our history and seq; serve reads
//                               within max_staleness meanwhile
//   401/403 (the leader refused our token)
//                               state "unauthorized", not ready; retry
//                               with backoff (the token may be rotated)
//   leader unreachable, garbage, gaps, duplicates, a cut stream
//                               apply nothing, back off with jitter,
//                               reconnect (resolving the name again)
//   no peer port (refused, or 404) but the leader answers GET /status
//                               mode "original-api": the leader is the
//                               original mehdb 0.6 (a rolling upgrade);
//                               follow it with GET /keys and /get/{key}
//                               every poll_wait (original_api_sync.h); ready
//                               after a cycle with at most max_lag_records
//                               of its keys still to download; and
//                               load a snapshot as soon as its peer port
//                               answers
//
// Reads keep being served from the store throughout.
// Thread safety: Start/Stop from one thread; Status() from any.
#ifndef MEHDBD_REPLICATION_FOLLOWER_H_
#define MEHDBD_REPLICATION_FOLLOWER_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "replication/original_api_sync.h"
#include "store/store_handle.h"
#include "base/token_file.h"
#include "tls/client.h"

namespace mehdbd::replication {

struct FollowerOptions {
  std::string leader_peer_url;  // "http(s)://host:port" of the leader's peer port
  // The leader's client base URL, for a leader that speaks only the
  // original's API; empty: never fall back to it.
  std::string leader_url;
  OriginalApiLimits original_api;
  std::string name;             // this pod, as the leader lists it
  // Where the leader reaches this follower's peer port (for its snapshot,
  // when the leader recovers from an empty volume); sent with each poll.
  std::string advertise_peer_url;
  tls::ClientTls tls;           // for an https:// leader_peer_url
  std::chrono::milliseconds poll_wait{5000};
  std::size_t max_batch_bytes = std::size_t{4} << 20;
  bool resnapshot_on_mismatch = false;
  // Readiness: in contact within max_contact_age and at most max_lag_records
  // behind the leader's last seq.
  std::uint64_t max_lag_records = 1000;
  std::chrono::milliseconds max_contact_age{15000};
  // Out of contact (the leader restarting, say), still ready for reads
  // while its data is at most this old: the time since it last knew it held
  // everything the leader had (--max-staleness).
  std::chrono::milliseconds max_staleness{300000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  // Sent as "Authorization: Bearer" on every peer request when set (the
  // daemon's --auth-token-file); must outlive the follower.
  const TokenFile* token = nullptr;
};

struct FollowerStatus {
  // starting, snapshotting, streaming, history-mismatch, leader-unreachable,
  // leader-recovering, unauthorized
  std::string state;
  // "peer" (the peer protocol) or "original-api" (a mehdb 0.6 leader)
  std::string mode = "peer";
  std::uint64_t original_api_cycles = 0;  // completed cycles in that mode
  std::uint64_t original_api_missing = 0;  // leader's keys not here yet (lag)
  std::string leader;
  std::string leader_history;
  mehdb::Seq applied_seq = 0;
  mehdb::Seq leader_last_seq = 0;
  mehdb::Seq leader_first_seq = 0;
  std::uint64_t lag_records = 0;
  double lag_seconds = 0;
  double seconds_since_contact = -1;  // -1: never in contact
  // Seconds since this follower last knew it held everything the leader had
  // (a poll answer it was caught up after): how stale its reads may be. -1:
  // not since it started.
  double staleness_seconds = -1;
  bool leader_away = false;  // out of contact, serving reads within max_staleness
  std::uint64_t snapshots = 0;         // full syncs
  std::uint64_t partial_resumes = 0;   // (re)connections that streamed on from our seq
  std::uint64_t batches_applied = 0;
  std::uint64_t records_applied = 0;
  std::uint64_t peer_errors = 0;
  std::uint64_t history_mismatches = 0;
  std::string last_error;
  bool ready = false;
  std::string not_ready_reason;
};

class Follower {
 public:
  Follower(StoreHandle& stores, FollowerOptions options);
  ~Follower();
  void Start();
  void Stop();
  FollowerStatus Status() const;
  // Cheap parts of Status() for every request: staleness_seconds, and
  // whether the leader is out of reach (unreachable, or no answer within
  // max_contact_age).
  double StalenessSeconds() const;
  bool LeaderOutOfReach() const;

 private:
  enum class Outcome { kApplied, kIdle, kNeedSnapshot, kMismatch, kError, kLeaderRecovering };
  void Run();
  Outcome Poll();
  bool Bootstrap();
  // After a failed exchange with no peer port behind it: switches to the
  // original's API if the leader answers it (see the file comment).
  bool MaybeFollowOriginal();
  void OriginalApiStep();
  // True when the leader's peer port answers as a peer server does.
  bool LeaderSpeaksPeer();
  void Fail(const std::string& error);
  // For a 401/403 answer: state "unauthorized" and a peer error saying so.
  void FailAuth(int status, const char* what);
  void SetState(const std::string& state);
  // Sleeps for the current backoff (interrupted by Stop) and doubles it.
  void Backoff();
  std::unique_ptr<httplib::Client> NewClient(std::chrono::milliseconds read_timeout);

  StoreHandle& stores_;
  const FollowerOptions options_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::mutex client_mu_;  // guards client_ so Stop() can cut a long poll
  std::shared_ptr<httplib::Client> client_;
  std::chrono::milliseconds backoff_;
  std::mt19937 rng_{std::random_device{}()};
  bool resumed_ = false;  // streamed since the last (re)connect
  bool synced_ = false;   // a snapshot or poll succeeded since start
  // The last failed exchange found no peer server (refused, or 404).
  bool peer_absent_ = false;
  std::unique_ptr<OriginalApiSync> original_;  // null without leader_url
  bool original_mode_ = false;
  bool snapshot_after_original_ = false;  // until a snapshot has loaded

  mutable std::mutex status_mu_;
  FollowerStatus status_;
  std::chrono::steady_clock::time_point last_contact_{};
  std::chrono::steady_clock::time_point last_current_{};  // see staleness_seconds
  std::uint64_t last_applied_commit_ns_ = 0;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_FOLLOWER_H_
