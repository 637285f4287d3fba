// SPDX-License-Identifier: MIT
#include "replication/ack_table.h"

namespace mehdbd::replication {

bool AckTable::BeginPoll(const std::string& follower, mehdb::Seq acked) {
  if (follower.size() > kMaxNameBytes) return false;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    PruneLocked(now);
    if (followers_.size() >= kMaxFollowers && !followers_.contains(follower)) return false;
    Entry& e = followers_[follower];
    e.name = follower;
    e.acked = acked;
    e.last_seen = now;
    e.last_seen_wall = std::chrono::system_clock::now();
    ++e.polls_open;
  }
  changes_->NotifyAll();
  return true;
}

std::size_t AckTable::Count(mehdb::Seq seq) const {
  std::lock_guard lock(mu_);
  return CountLocked(seq, Clock::now());
}

void AckTable::EndPoll(const std::string& follower) {
  std::lock_guard lock(mu_);
  auto it = followers_.find(follower);
  if (it == followers_.end()) return;
  // Answered now: seen until this moment, not just when the poll began.
  it->second.last_seen = Clock::now();
  it->second.last_seen_wall = std::chrono::system_clock::now();
  if (it->second.polls_open > 0) --it->second.polls_open;
}

bool AckTable::ForgottenLocked(const Entry& e, Clock::time_point now) const {
  return e.polls_open == 0 && now - e.last_seen > forget_after_;
}

void AckTable::PruneLocked(Clock::time_point now) {
  std::erase_if(followers_, [&](const auto& kv) { return ForgottenLocked(kv.second, now); });
}

std::size_t AckTable::CountLocked(mehdb::Seq seq, Clock::time_point now) const {
  std::size_t n = 0;
  for (const auto& [name, e] : followers_)
    if (e.acked >= seq && !ForgottenLocked(e, now)) ++n;
  return n;
}

std::vector<AckTable::Entry> AckTable::Snapshot() const {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  std::vector<Entry> out;
  for (const auto& [name, e] : followers_)
    if (!ForgottenLocked(e, now)) out.push_back(e);
  return out;
}

}  // namespace mehdbd::replication
