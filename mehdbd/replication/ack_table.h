// SPDX-License-Identifier: MIT
//
// AckTable: on the leader, how far each follower has confirmed applying
// (its log request from=S acknowledges S-1), when it was last heard from,
// and a way for a write to wait until N followers have its seq (acks=N).
//
// Thread safety: all methods may be called from any thread.
#ifndef MEHDBD_REPLICATION_ACK_TABLE_H_
#define MEHDBD_REPLICATION_ACK_TABLE_H_

#include <mehdb/replication.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mehdbd::replication {

class AckTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string name;
    mehdb::Seq acked = 0;
    Clock::time_point last_seen;
  };

  void Record(const std::string& follower, mehdb::Seq acked);
  // Blocks until at least `n` followers acknowledged `seq`, or the timeout;
  // answers how many had.
  std::size_t WaitFor(mehdb::Seq seq, std::size_t n, std::chrono::milliseconds timeout);
  std::vector<Entry> Snapshot() const;

 private:
  std::size_t CountLocked(mehdb::Seq seq) const;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Entry> followers_;
};

}  // namespace mehdbd::replication

#endif  // MEHDBD_REPLICATION_ACK_TABLE_H_
