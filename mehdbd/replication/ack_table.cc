// SPDX-License-Identifier: MIT
#include "replication/ack_table.h"

namespace mehdbd::replication {

void AckTable::Record(const std::string& follower, mehdb::Seq acked) {
  {
    std::lock_guard lock(mu_);
    Entry& e = followers_[follower];
    e.name = follower;
    e.acked = acked;
    e.last_seen = Clock::now();
  }
  changed_.notify_all();
}

std::size_t AckTable::CountLocked(mehdb::Seq seq) const {
  std::size_t n = 0;
  for (const auto& [name, e] : followers_)
    if (e.acked >= seq) ++n;
  return n;
}

std::size_t AckTable::WaitFor(mehdb::Seq seq, std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return CountLocked(seq) >= n; });
  return CountLocked(seq);
}

std::vector<AckTable::Entry> AckTable::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  for (const auto& [name, e] : followers_) out.push_back(e);
  return out;
}

}  // namespace mehdbd::replication
