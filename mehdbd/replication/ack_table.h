// SPDX-License-Identifier: MIT
//
// AckTable: on the leader, how far each follower has confirmed applying
// (its accepted log request from=S acknowledges S-1), when it was last heard
// from, and a way for a write to wait until N followers have its seq
// (acks=N).
//
// Only polls the leader accepted may be recorded (authenticated where auth is
// on, same history, not ahead of the leader: see PeerServer::Log), so an ack
// is a fact about a follower that exists. A follower is forgotten once it has
// had no poll open for `forget_after` (--forget-followers-after): a stopped
// or renamed follower then no longer counts, shows or takes memory. One with
// a long-poll parked at the leader is never forgotten.
//
// Thread safety: all methods may be called from any thread.
#ifndef MEHDBD_REPLICATION_ACK_TABLE_H_
#define MEHDBD_REPLICATION_ACK_TABLE_H_

#include <mehdb/replication.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/wait_queue.h"

namespace mehdbd::replication {

class AckTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string name;
    mehdb::Seq acked = 0;
    Clock::time_point last_seen;
    std::chrono::system_clock::time_point last_seen_wall;  // for /replication
    int polls_open = 0;  // long-polls of this follower parked right now
  };

  explicit AckTable(std::chrono::milliseconds forget_after = std::chrono::seconds(60))
      : forget_after_(forget_after) {}

  // Follower names are pod names (DNS labels and subdomains); the table
  // holds at most this many, so made-up names cannot grow it without bound.
  static constexpr std::size_t kMaxNameBytes = 253;
  static constexpr std::size_t kMaxFollowers = 256;

  // An accepted poll of `follower` acknowledging `acked` has begun; pair
  // with EndPoll once it is answered (PollScope does both). False (nothing
  // recorded) for an over-long name or a new name when the table is full.
  bool BeginPoll(const std::string& follower, mehdb::Seq acked);
  void EndPoll(const std::string& follower);

  // How many followers acknowledged `seq` (not forgotten ones).
  std::size_t Count(mehdb::Seq seq) const;
  // Notified whenever a follower's acknowledged seq is recorded: writes
  // waiting for acks park here without a thread (net/wait_queue.h).
  const std::shared_ptr<net::WaitQueue>& changes() const { return changes_; }

  // The followers not forgotten, by name.
  std::vector<Entry> Snapshot() const;
  std::chrono::milliseconds forget_after() const { return forget_after_; }

 private:
  const std::shared_ptr<net::WaitQueue> changes_ = std::make_shared<net::WaitQueue>();
  bool ForgottenLocked(const Entry& e, Clock::time_point now) const;
  void PruneLocked(Clock::time_point now);
  std::size_t CountLocked(mehdb::Seq seq, Clock::time_point now) const;

  const std::chrono::milliseconds forget_after_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> followers_;
};

// BeginPoll on construction, EndPoll on destruction.
class PollScope {
 public:
  PollScope(AckTable& table, std::string follower, mehdb::Seq acked)
      : table_(table), follower_(std::move(follower)),
        recorded_(table_.BeginPoll(follower_, acked)) {}
  ~PollScope() {
    if (recorded_) table_.EndPoll(follower_);
  }
  PollScope(const PollScope&) = delete;
  PollScope& operator=(const PollScope&) = delete;

 private:
  AckTable& table_;
  const std::string follower_;
  const bool recorded_;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_ACK_TABLE_H_
